#include "strata/core/workspace.h"

#include <algorithm>

namespace strata {

void* Workspace::take_bytes(size_t bytes) {
  bytes = rounded(bytes);
  while (block_ < blocks_.size() && offset_ + bytes > blocks_[block_].size()) {
    ++block_;
    offset_ = 0;
  }
  if (block_ == blocks_.size()) {
    // Not reserved for: grow geometrically so a few steps settle on one block after reset().
    const size_t previous = blocks_.empty() ? 0 : blocks_.back().size();
    blocks_.emplace_back(std::max<size_t>({bytes, previous * 2, size_t{1} << 20}), device_);
    ++growths_;
    offset_ = 0;
  }
  void* p = static_cast<char*>(blocks_[block_].data()) + offset_;
  offset_ += bytes;
  return p;
}

Tensor Workspace::take(DType dtype, std::initializer_list<int64_t> shape) {
  Tensor t = Tensor::contiguous(nullptr, dtype, shape, device_);
  t.data = take_bytes(t.nbytes());
  return t;
}

void Workspace::reset() {
  // Merge into one block big enough for everything the last step used, so the next step fits in it.
  if (blocks_.size() > 1) reserve(capacity());
  block_ = 0;
  offset_ = 0;
}

void Workspace::reserve(size_t bytes) {
  bytes = std::max(bytes, capacity());
  if (blocks_.size() == 1 && blocks_[0].size() >= bytes) return;
  blocks_.clear();
  blocks_.emplace_back(rounded(bytes), device_);
  ++growths_;
  block_ = 0;
  offset_ = 0;
}

size_t Workspace::capacity() const {
  size_t total = 0;
  for (const Buffer& b : blocks_) total += b.size();
  return total;
}

}  // namespace strata
