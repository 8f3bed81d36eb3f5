// Shared by the CUDA tests: one CudaContext per process, skipping (visibly) without a GPU, moving
// tensors between host and device, random data and the comparison every kernel test makes against its
// CPU twin. Every CUDA test starts with STRATA_REQUIRE_GPU().
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <random>
#include <vector>

#include "strata/core/cuda_context.h"
#include "strata/core/cuda_runtime.h"
#include "strata/core/exec.h"
#include "strata/core/tensor.h"
#include "strata/core/thread_pool.h"

namespace strata::testing {

// The process's GPU (cuda:0), opened on first use; nullptr without one.
inline CudaContext* gpu() {
  static std::unique_ptr<CudaContext> context = [] {
    return cuda::device_count() > 0 ? std::make_unique<CudaContext>(0) : nullptr;
  }();
  return context.get();
}

inline ThreadPool& host_pool() {
  static ThreadPool pool(2);
  return pool;
}

inline Exec gpu_exec() { return Exec(*gpu(), host_pool()); }

// Skips the test with a message that shows in ctest's output when there is no GPU.
#define STRATA_REQUIRE_GPU()                                                                        \
  do {                                                                                              \
    if (::strata::testing::gpu() == nullptr)                                                        \
      GTEST_SKIP() << "no CUDA GPU (" << ::strata::cuda::unavailable_reason() << "): CUDA test skipped"; \
  } while (0)

// A host tensor and its storage.
struct HostTensor {
  Buffer buffer;
  Tensor tensor;
};
// A device tensor and its storage, same shape and strides as the host tensor it came from.
struct DeviceTensor {
  Buffer buffer;
  Tensor tensor;
};

inline HostTensor host_tensor(DType dtype, std::initializer_list<int64_t> shape) {
  HostTensor h;
  Tensor t = Tensor::contiguous(nullptr, dtype, shape);
  h.buffer = Buffer(std::max<size_t>(t.nbytes(), 1));
  t.data = h.buffer.data();
  h.tensor = t;
  return h;
}

// Copies a host tensor's whole storage extent (strides kept) to the device.
inline size_t extent_bytes(const Tensor& t) {
  int64_t last = 0;
  for (int d = 0; d < t.ndim; ++d) last += (t.shape[static_cast<size_t>(d)] - 1) * t.strides[static_cast<size_t>(d)];
  return t.numel() == 0 ? 0 : static_cast<size_t>(last + 1) * dtype_size(t.dtype);
}

inline DeviceTensor to_device(const Tensor& host) {
  DeviceTensor d;
  const size_t bytes = extent_bytes(host);
  d.buffer = Buffer(std::max<size_t>(bytes, 1), Device::cuda);
  cuda::copy(d.buffer.data(), host.data, bytes);
  d.tensor = host;
  d.tensor.data = d.buffer.data();
  d.tensor.device = Device::cuda;
  return d;
}

// Copies a device tensor's storage extent back into `host` (same shape and strides).
inline void to_host(const Tensor& device, const Tensor& host) {
  gpu()->synchronize();
  cuda::copy(host.data, device.data, extent_bytes(device));
}

inline std::vector<float> device_floats(const Tensor& device) {
  gpu()->synchronize();
  std::vector<float> out(extent_bytes(device) / sizeof(float));
  cuda::copy(out.data(), device.data, out.size() * sizeof(float));
  return out;
}

inline void fill_uniform(std::vector<float>& v, std::mt19937& rng, float low = -1.0f, float high = 1.0f) {
  std::uniform_real_distribution<float> dist(low, high);
  for (float& x : v) x = dist(rng);
}

// max |a - b| / max(1, max |b|) over two float arrays; NaN anywhere makes it infinite.
inline double relative_max_error(const float* a, const float* b, size_t n) {
  double diff = 0, scale = 1;
  for (size_t i = 0; i < n; ++i) {
    if (!std::isfinite(a[i]) || !std::isfinite(b[i])) return INFINITY;
    diff = std::max(diff, std::fabs(static_cast<double>(a[i]) - b[i]));
    scale = std::max(scale, std::fabs(static_cast<double>(b[i])));
  }
  return diff / scale;
}

}  // namespace strata::testing
