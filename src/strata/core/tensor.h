// Tensor: a non-owning view of typed memory (dtype, shape, strides in elements, device, pointer),
// and Buffer: owning, aligned memory on one device (host today; the CUDA allocator plugs in behind the
// same constructor) that hands out views.
// Kernels take views and never allocate; buffers come from the cache or a workspace.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>

#include "strata/core/dtype.h"

namespace strata {

enum class Device : uint8_t { cpu, cuda };

// "cpu" / "cuda", for messages.
const char* device_name(Device device);

constexpr int kMaxDims = 6;

struct Tensor {
  void* data = nullptr;
  DType dtype = DType::f32;
  Device device = Device::cpu;
  int ndim = 0;
  std::array<int64_t, kMaxDims> shape{};
  std::array<int64_t, kMaxDims> strides{};  // in elements, not bytes

  // A contiguous (row-major) view over `data`.
  static Tensor contiguous(void* data, DType dtype, std::initializer_list<int64_t> shape,
                           Device device = Device::cpu);

  int64_t numel() const;
  size_t nbytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype); }
  int64_t size(int dim) const { return shape[static_cast<size_t>(dim < 0 ? dim + ndim : dim)]; }
  int64_t stride(int dim) const { return strides[static_cast<size_t>(dim < 0 ? dim + ndim : dim)]; }
  bool is_contiguous() const;

  template <typename T>
  T* ptr() const { return static_cast<T*>(data); }

  // The sub-view at index i of the first dimension.
  Tensor operator[](int64_t index) const;
  // Rows [begin, end) of the first dimension.
  Tensor slice(int64_t begin, int64_t end) const;
  // The view of columns [begin, begin + width) of a 2-D view: same rows and row stride (no bounds check).
  Tensor columns(int64_t begin, int64_t width) const;
  // Same memory, new contiguous shape; the view must be contiguous and the element count equal.
  Tensor reshape(std::initializer_list<int64_t> new_shape) const;

  // "bf16[24, 64, 128]", for error messages.
  std::string describe() const;
};

// How a Buffer's memory goes back: free(), free() after unpinning, or cudaFree.
struct BufferFree {
  Device device = Device::cpu;
  bool pinned = false;
  void operator()(void* p) const;
};

// Owning aligned memory on `device`, zero-filled. Move-only. Host memory is 64-byte aligned (2 MiB
// pages for large buffers); CUDA memory comes from cudaMalloc (never managed memory). A device without
// an allocator in this build throws strata::Error.
class Buffer {
 public:
  Buffer() = default;
  explicit Buffer(size_t bytes, Device device = Device::cpu);
  // Page-locked host memory (copies from it to a GPU are asynchronous and can be graph-captured).
  static Buffer pinned(size_t bytes);
  Buffer(Buffer&&) noexcept = default;
  Buffer& operator=(Buffer&&) noexcept = default;

  void* data() const { return data_.get(); }
  size_t size() const { return size_; }
  Device device() const { return device_; }
  Tensor view(DType dtype, std::initializer_list<int64_t> shape) const;

 private:
  std::unique_ptr<void, BufferFree> data_;
  size_t size_ = 0;
  Device device_ = Device::cpu;
};

}  // namespace strata
