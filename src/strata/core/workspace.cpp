#include "strata/core/workspace.h"

#include <algorithm>

namespace strata {

Workspace::Workspace(Device device) : device_(device) {
  if (device != Device::cpu) {
    host_ = std::make_unique<Workspace>(Device::cpu);
    host_->pinned_ = true;
  }
}
Workspace::Workspace(size_t bytes, Device device) : Workspace(device) { reserve(bytes); }
Workspace::~Workspace() = default;
Workspace::Workspace(Workspace&&) noexcept = default;
Workspace& Workspace::operator=(Workspace&&) noexcept = default;

Buffer Workspace::make_block(size_t bytes) const { return pinned_ ? Buffer::pinned(bytes) : Buffer(bytes, device_); }

void* Workspace::take_host_bytes(size_t bytes) { return host_ ? host_->take_bytes(bytes) : take_bytes(bytes); }

Tensor Workspace::take_host(DType dtype, std::initializer_list<int64_t> shape) {
  return host_ ? host_->take(dtype, shape) : take(dtype, shape);
}

void* Workspace::take_bytes(size_t bytes) {
  bytes = rounded(bytes);
  while (block_ < blocks_.size() && offset_ + bytes > blocks_[block_].size()) {
    ++block_;
    offset_ = 0;
  }
  if (block_ == blocks_.size()) {
    // Not reserved for: grow geometrically so a few steps settle on one block after reset().
    const size_t previous = blocks_.empty() ? 0 : blocks_.back().size();
    blocks_.push_back(make_block(std::max<size_t>({bytes, previous * 2, size_t{1} << 20})));
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
  if (host_) host_->reset();
  // Merge into one block big enough for everything the last step used, so the next step fits in it.
  if (blocks_.size() > 1) reserve(capacity());
  block_ = 0;
  offset_ = 0;
}

void Workspace::reserve(size_t bytes) {
  if (host_) host_->reserve(size_t{1} << 20);  // metadata: kilobytes per step
  bytes = std::max(bytes, capacity());
  if (blocks_.size() == 1 && blocks_[0].size() >= bytes) return;
  blocks_.clear();
  blocks_.push_back(make_block(rounded(bytes)));
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
