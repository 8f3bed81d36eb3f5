#include "strata/core/tensor.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include <fmt/format.h>

#include "strata/core/cuda_runtime.h"
#include "strata/core/error.h"

namespace strata {

Tensor Tensor::contiguous(void* data, DType dtype, std::initializer_list<int64_t> shape,
                          Device device) {
  Tensor t;
  t.data = data;
  t.dtype = dtype;
  t.device = device;
  if (shape.size() > kMaxDims) fail("tensor rank {} exceeds the maximum of {}", shape.size(), kMaxDims);
  t.ndim = static_cast<int>(shape.size());
  size_t i = 0;
  for (int64_t s : shape) t.shape[i++] = s;
  int64_t stride = 1;
  for (int d = t.ndim - 1; d >= 0; --d) {
    t.strides[static_cast<size_t>(d)] = stride;
    stride *= t.shape[static_cast<size_t>(d)];
  }
  return t;
}

int64_t Tensor::numel() const {
  int64_t n = 1;
  for (int d = 0; d < ndim; ++d) n *= shape[static_cast<size_t>(d)];
  return n;
}

bool Tensor::is_contiguous() const {
  int64_t expected = 1;
  for (int d = ndim - 1; d >= 0; --d) {
    if (shape[static_cast<size_t>(d)] != 1 && strides[static_cast<size_t>(d)] != expected) return false;
    expected *= shape[static_cast<size_t>(d)];
  }
  return true;
}

Tensor Tensor::operator[](int64_t index) const {
  Tensor t = *this;
  t.data = static_cast<char*>(data) + index * strides[0] * static_cast<int64_t>(dtype_size(dtype));
  for (int d = 1; d < ndim; ++d) {
    t.shape[static_cast<size_t>(d - 1)] = shape[static_cast<size_t>(d)];
    t.strides[static_cast<size_t>(d - 1)] = strides[static_cast<size_t>(d)];
  }
  t.ndim = ndim - 1;
  return t;
}

Tensor Tensor::slice(int64_t begin, int64_t end) const {
  Tensor t = *this;
  t.data = static_cast<char*>(data) + begin * strides[0] * static_cast<int64_t>(dtype_size(dtype));
  t.shape[0] = end - begin;
  return t;
}

Tensor Tensor::columns(int64_t begin, int64_t width) const {
  Tensor t = *this;
  t.data = static_cast<char*>(data) + begin * strides[1] * static_cast<int64_t>(dtype_size(dtype));
  t.shape[1] = width;
  return t;
}

Tensor Tensor::reshape(std::initializer_list<int64_t> new_shape) const {
  if (!is_contiguous()) fail("cannot reshape non-contiguous tensor {}", describe());
  Tensor t = contiguous(data, dtype, new_shape, device);
  if (t.numel() != numel()) fail("cannot reshape {} to {} elements", describe(), t.numel());
  return t;
}

std::string Tensor::describe() const {
  std::string s = fmt::format("{}[", dtype_name(dtype));
  for (int d = 0; d < ndim; ++d) s += fmt::format("{}{}", d ? ", " : "", shape[static_cast<size_t>(d)]);
  return s + "]";
}

const char* device_name(Device device) {
  switch (device) {
    case Device::cpu: return "cpu";
    case Device::cuda: return "cuda";
  }
  return "?";
}

Buffer::Buffer(size_t bytes, Device device) : size_(bytes), device_(device) {
  if (device == Device::cuda) {
    data_ = std::unique_ptr<void, BufferFree>(cuda::allocate(bytes), BufferFree{.device = Device::cuda, .pinned = false});
    return;
  }
  // Large buffers (weights, state pools, KV blocks) are streamed end to end every step: back them with
  // 2 MiB pages where the kernel allows it, so the streams are not throttled by TLB misses.
  constexpr size_t kHugePage = size_t{2} << 20;
  const size_t alignment = bytes >= kHugePage ? kHugePage : 64;
  const size_t rounded = std::max<size_t>(alignment, (bytes + alignment - 1) / alignment * alignment);
  void* p = std::aligned_alloc(alignment, rounded);
  if (!p) fail("out of memory allocating {} bytes", bytes);
  if (alignment == kHugePage) madvise(p, rounded, MADV_HUGEPAGE);  // a hint; failure is harmless
  std::memset(p, 0, rounded);
  data_.reset(p);
}

Buffer Buffer::pinned(size_t bytes) {
  Buffer b(bytes, Device::cpu);
  cuda::pin(b.data(), std::max<size_t>(bytes, 64));
  b.data_.get_deleter().pinned = true;
  return b;
}

void BufferFree::operator()(void* p) const {
  if (device == Device::cuda) return cuda::release(p);
  if (pinned) cuda::unpin(p);
  std::free(p);
}

Tensor Buffer::view(DType dtype, std::initializer_list<int64_t> shape) const {
  Tensor t = Tensor::contiguous(data_.get(), dtype, shape, device_);
  if (t.nbytes() > size_) fail("view {} needs {} bytes but the buffer holds {}", t.describe(), t.nbytes(), size_);
  return t;
}

}  // namespace strata
