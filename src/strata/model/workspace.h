// Workspace: scratch memory for one forward step, handed out as f32 tensors and reclaimed all at once.
// Layers take their temporaries from here instead of allocating; the arena grows to the largest step
// seen and is then reused, so steady-state decode allocates nothing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <vector>

#include "strata/core/tensor.h"

namespace strata::model {

class Workspace {
 public:
  // A zero-initialised-on-first-growth, 64-byte aligned tensor valid until reset(). Contents are
  // unspecified (not zeroed) when memory is reused.
  Tensor take(DType dtype, std::initializer_list<int64_t> shape);
  // Raw bytes (64-byte aligned), e.g. a kernel's workspace.
  void* take_bytes(size_t bytes);
  // Returns everything taken since the last reset. Call at the start of a step.
  void reset();
  size_t capacity() const;

 private:
  std::vector<Buffer> blocks_;  // earlier blocks stay valid until reset() so views never dangle
  size_t block_ = 0, offset_ = 0;
};

}  // namespace strata::model
