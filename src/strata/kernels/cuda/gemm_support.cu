// The small passes around the cuBLAS GEMM: x cast to bf16/f16 (cuBLAS multiplies two matrices of one
// type, so the f32 activations meet the weight in its dtype) and the bias/accumulate pass (cuBLAS then
// adds its product with beta = 1). Both are elementwise over a [rows, cols] window with row strides:
// blockIdx.x and the threads cover 256 consecutive columns (coalesced), blockIdx.y strides over rows
// (grid-stride, so any row count fits the 65535 limit of grid.y).
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>

#include "strata/core/cuda_runtime.h"
#include "strata/kernels/cuda/gemm_device.cuh"
#include "strata/kernels/cuda/gemm_launch.h"

namespace strata::kernels::cuda {
namespace {

using namespace gemm_device;

constexpr int kThreads = 256;
constexpr int64_t kMaxGridRows = 65535;

int kind_of(DType t) { return t == DType::f32 ? kF32 : t == DType::bf16 ? kBf16 : kF16; }

dim3 grid_for(int64_t rows, int64_t cols) {
  return dim3(static_cast<unsigned>((cols + kThreads - 1) / kThreads),
              static_cast<unsigned>(std::min(rows, kMaxGridRows)));
}

__global__ void __launch_bounds__(kThreads)
    cast_rows_kernel(const float* x, int64_t ldx, int64_t rows, int64_t cols, void* dst, bool to_bf16,
                     int64_t ld_dst) {
  const int64_t col = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x;
  if (col >= cols) return;
  for (int64_t row = blockIdx.y; row < rows; row += gridDim.y) {
    const float v = x[row * ldx + col];
    // __float2bfloat16_rn / __float2half_rn round to nearest even, as f32_to_bf16 / f32_to_f16 do.
    if (to_bf16)
      static_cast<__nv_bfloat16*>(dst)[row * ld_dst + col] = __float2bfloat16_rn(v);
    else
      static_cast<__half*>(dst)[row * ld_dst + col] = __float2half_rn(v);
  }
}

__global__ void __launch_bounds__(kThreads)
    bias_rows_kernel(float* y, int64_t ldy, int64_t rows, int64_t cols, const void* bias, int bias_kind,
                     int64_t bias_stride, bool accumulate) {
  const int64_t col = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x;
  if (col >= cols) return;
  const float b = bias_at(bias, bias_kind, bias_stride, col);
  for (int64_t row = blockIdx.y; row < rows; row += gridDim.y) {
    float* out = y + row * ldy + col;
    *out = (accumulate ? *out : 0.0f) + b;
  }
}

}  // namespace

void launch_cast_rows(const float* x, int64_t ldx, int64_t rows, int64_t cols, void* dst, DType dst_dtype,
                      int64_t ld_dst, void* stream) {
  if (rows <= 0 || cols <= 0) return;
  cast_rows_kernel<<<grid_for(rows, cols), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(
      x, ldx, rows, cols, dst, dst_dtype == DType::bf16, ld_dst);
  strata::cuda::check_last_error("gemm: cast of x");
}

void launch_bias_rows(float* y, int64_t ldy, int64_t rows, int64_t cols, const void* bias, DType bias_dtype,
                      int64_t bias_stride, bool accumulate, void* stream) {
  if (rows <= 0 || cols <= 0) return;
  bias_rows_kernel<<<grid_for(rows, cols), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(
      y, ldy, rows, cols, bias, kind_of(bias_dtype), bias_stride, accumulate);
  strata::cuda::check_last_error("gemm: bias pass");
}

}  // namespace strata::kernels::cuda
