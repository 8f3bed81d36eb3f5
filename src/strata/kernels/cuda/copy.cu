// Converting copy on CUDA: a grid-stride loop over the flat element range, four elements per thread per
// step (one float4 store) when the count and both pointers allow it, one otherwise.
#include "strata/kernels/cuda/copy.h"

#include <cuda_runtime.h>

#include <algorithm>

#include "strata/core/cuda_context.h"
#include "strata/kernels/cuda/widen.cuh"
#include "strata/kernels/cuda/launch.cuh"

namespace strata::kernels::cuda {
namespace {

constexpr int kThreads = 256;
constexpr int64_t kMaxBlocks = 4096;  // enough to fill an H200 many times over; the loop covers the rest

template <typename Tag, int V>
__global__ void __launch_bounds__(kThreads) copy_kernel(const void* src, float* dst, int64_t n) {
  enter_kernel();  // launch.cuh: before any global memory access
  const auto* s = static_cast<const typename Tag::Element*>(src);
  const int64_t step = static_cast<int64_t>(gridDim.x) * kThreads * V;
  for (int64_t i = (static_cast<int64_t>(blockIdx.x) * kThreads + static_cast<int64_t>(threadIdx.x)) * V; i < n;
       i += step) {
    if constexpr (V == 4)
      *reinterpret_cast<float4*>(dst + i) = widen::load4<Tag>(s + i);  // n % 4 == 0: i+3 < n
    else
      dst[i] = widen::load1<Tag>(s + i);
  }
}

template <typename Tag>
void launch_copy(const void* src, float* dst, int64_t n, cudaStream_t stream) {
  if (n <= 0) return;
  constexpr size_t kElement = sizeof(typename Tag::Element);
  const bool vector = n % 4 == 0 && widen::aligned(src, 4 * kElement) && widen::aligned(dst, 16);
  const int64_t per_block = static_cast<int64_t>(kThreads) * (vector ? 4 : 1);
  const auto blocks = static_cast<unsigned>(std::min(kMaxBlocks, (n + per_block - 1) / per_block));
  if (vector)
    launch_kernel(copy_kernel<Tag, 4>, blocks, kThreads, 0, stream, src, dst, n);
  else
    launch_kernel(copy_kernel<Tag, 1>, blocks, kThreads, 0, stream, src, dst, n);
  strata::cuda::check_last_error("copy_to_f32");
}

}  // namespace

void copy_to_f32(const Tensor& src, const Tensor& dst, const Exec& exec) {
  const auto stream = static_cast<cudaStream_t>(exec.cuda().stream());
  const int64_t n = src.numel();
  switch (src.dtype) {
    case DType::bf16: return launch_copy<widen::Bf16>(src.data, dst.ptr<float>(), n, stream);
    case DType::f16: return launch_copy<widen::F16>(src.data, dst.ptr<float>(), n, stream);
    default: return launch_copy<widen::F32>(src.data, dst.ptr<float>(), n, stream);  // f32 (checked)
  }
}

}  // namespace strata::kernels::cuda
