#include "strata/model/weight_source.h"

#include <algorithm>

#include "strata/core/error.h"

namespace strata::model {

Tensor MemoryWeights::add(const std::string& name, DType dtype, std::initializer_list<int64_t> shape) {
  if (tensors_.count(name)) fail("{}: tensor '{}' added twice", label_, name);
  Tensor view = Tensor::contiguous(nullptr, dtype, shape);
  Buffer buffer(view.nbytes());
  view.data = buffer.data();
  tensors_.emplace(name, std::make_pair(std::move(buffer), view));
  names_.insert(std::upper_bound(names_.begin(), names_.end(), name), name);
  return view;
}

bool MemoryWeights::has(std::string_view name) const { return tensors_.find(name) != tensors_.end(); }

Tensor MemoryWeights::get(std::string_view name) const {
  const auto it = tensors_.find(name);
  if (it == tensors_.end()) fail("{}: no tensor '{}'", label_, name);
  return it->second.second;
}

}  // namespace strata::model
