#include "strata/model/workspace.h"

#include <algorithm>

namespace strata::model {

void* Workspace::take_bytes(size_t bytes) {
  bytes = (bytes + 63) / 64 * 64;
  while (block_ < blocks_.size() && offset_ + bytes > blocks_[block_].size()) {
    ++block_;
    offset_ = 0;
  }
  if (block_ == blocks_.size()) {
    // Grow geometrically so a few steps settle on one or two blocks.
    const size_t previous = blocks_.empty() ? 0 : blocks_.back().size();
    blocks_.emplace_back(std::max<size_t>({bytes, previous * 2, size_t{1} << 20}));
    offset_ = 0;
  }
  void* p = static_cast<char*>(blocks_[block_].data()) + offset_;
  offset_ += bytes;
  return p;
}

Tensor Workspace::take(DType dtype, std::initializer_list<int64_t> shape) {
  Tensor t = Tensor::contiguous(nullptr, dtype, shape);
  t.data = take_bytes(t.nbytes());
  return t;
}

void Workspace::reset() {
  // Merge into one block big enough for everything the last step used, so the next step fits in it.
  if (blocks_.size() > 1) {
    size_t total = 0;
    for (const Buffer& b : blocks_) total += b.size();
    blocks_.clear();
    blocks_.emplace_back(total);
  }
  block_ = 0;
  offset_ = 0;
}

size_t Workspace::capacity() const {
  size_t total = 0;
  for (const Buffer& b : blocks_) total += b.size();
  return total;
}

}  // namespace strata::model
