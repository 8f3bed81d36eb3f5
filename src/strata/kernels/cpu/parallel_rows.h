// parallel_rows: the row loops of the small CPU kernels (gathers, mixes, element-wise updates) split
// across the pool only when the block is large enough to pay for waking it.
#pragma once

#include <cstdint>

#include "strata/core/thread_pool.h"

namespace strata::kernels::cpu {

// Below this many floats a row loop runs on the calling thread: waking the pool costs more.
constexpr int64_t kInlineRowFloats = 1 << 15;

// Calls fn(begin, end) over [0, rows), inline when rows · width floats are few.
template <typename Fn>
void parallel_rows(ThreadPool& pool, int64_t rows, int64_t width, const Fn& fn) {
  if (rows * width < kInlineRowFloats)
    fn(0, rows);
  else
    pool.parallel_for(rows, fn);
}

}  // namespace strata::kernels::cpu
