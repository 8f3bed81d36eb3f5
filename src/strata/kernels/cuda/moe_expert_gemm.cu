// The grouped expert GEMM (moe_expert_gemm.h). Grid: (ceil(n / kWarps), experts); each warp owns one
// output column j of its expert — one weight row — and walks that expert's rows kRows at a time: lanes
// stride over k (coalesced weight and x loads), accumulate in f32, reduce by shuffles. The weight row is
// read from memory once per kRows token rows (a decode step gives each expert a handful of rows).
#include <cuda_runtime.h>

#include "strata/core/cuda_runtime.h"
#include "strata/kernels/cuda/gemm_device.cuh"
#include "strata/kernels/cuda/moe_expert_gemm.h"
#include "strata/kernels/cuda/launch.cuh"

namespace strata::kernels::cuda {
namespace {

using namespace gemm_device;

constexpr int kWarps = 4;
constexpr int kRows = 4;

template <int Kind>
__device__ __forceinline__ float weight_at(const void* w, int64_t i) {
  if constexpr (Kind == kF32) return static_cast<const float*>(w)[i];
  const uint32_t bits = static_cast<const uint16_t*>(w)[i];
  if constexpr (Kind == kBf16) return bf16_bits_to_f32(bits);
  return f16_bits_to_f32(bits);
}

template <int Kind>
__global__ void __launch_bounds__(kWarps * 32) expert_gemm_kernel(ExpertGemm g) {
  enter_kernel();  // launch.cuh: before any global memory access
  const int lane = threadIdx.x & 31;
  const int64_t j = static_cast<int64_t>(blockIdx.x) * kWarps + (threadIdx.x >> 5);
  const int64_t e = blockIdx.y;
  const int64_t first = g.expert_start[e], last = g.expert_start[e + 1];
  if (j >= g.n || first >= last) return;
  const void* w = g.weights[e];
  const int64_t row_base = j * g.ldw;
  for (int64_t r0 = first; r0 < last; r0 += kRows) {
    const int rows = static_cast<int>(last - r0 < kRows ? last - r0 : kRows);
    float acc[kRows] = {0.0f, 0.0f, 0.0f, 0.0f};
    for (int64_t c = lane; c < g.k; c += 32) {
      const float wv = weight_at<Kind>(w, row_base + c);
#pragma unroll
      for (int r = 0; r < kRows; ++r)
        if (r < rows) acc[r] = fmaf(g.x[(r0 + r) * g.ldx + c], wv, acc[r]);
    }
#pragma unroll
    for (int r = 0; r < kRows; ++r) {
      float v = acc[r];
      for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(0xffffffffu, v, offset);
      if (lane == 0 && r < rows) g.y[(r0 + r) * g.ldy + j] = v;
    }
  }
}

}  // namespace

void launch_expert_gemm(const ExpertGemm& g, void* stream) {
  if (g.experts <= 0 || g.n <= 0) return;
  const dim3 grid(static_cast<unsigned>((g.n + kWarps - 1) / kWarps), static_cast<unsigned>(g.experts));
  const auto s = static_cast<cudaStream_t>(stream);
  if (g.weight_dtype == DType::f32)
    launch_kernel(expert_gemm_kernel<kF32>, grid, kWarps * 32, 0, s, g);
  else if (g.weight_dtype == DType::bf16)
    launch_kernel(expert_gemm_kernel<kBf16>, grid, kWarps * 32, 0, s, g);
  else
    launch_kernel(expert_gemm_kernel<kF16>, grid, kWarps * 32, 0, s, g);
  strata::cuda::check_last_error("moe expert gemm");
}

}  // namespace strata::kernels::cuda
