// The small passes around the cuBLAS GEMM: x split or rounded to bf16/f16 (cuBLAS multiplies two
// matrices of one type, so the f32 activations meet the weight in its dtype) and the bias/accumulate pass (cuBLAS then
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
#include "strata/kernels/cuda/launch.cuh"

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

// hi = rn(x) into rows [0, rows), lo = rn(x - hi) into rows [rows, 2·rows): x ≈ hi + lo to ~2^-17.
template <typename Half>
__device__ Half round_to(float v);
template <>
__device__ __nv_bfloat16 round_to<__nv_bfloat16>(float v) { return __float2bfloat16_rn(v); }
template <>
__device__ __half round_to<__half>(float v) { return __float2half_rn(v); }
__device__ float widen(__nv_bfloat16 v) { return __bfloat162float(v); }
__device__ float widen(__half v) { return __half2float(v); }

template <typename Half>
__global__ void __launch_bounds__(kThreads)
    split_rows_kernel(const float* x, int64_t ldx, int64_t rows, int64_t cols, Half* dst, int64_t ld_dst) {
  enter_kernel();  // launch.cuh: before any global memory access
  const int64_t col = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x;
  if (col >= cols) return;
  for (int64_t row = blockIdx.y; row < rows; row += gridDim.y) {
    const float v = x[row * ldx + col];
    const Half hi = round_to<Half>(v);
    dst[row * ld_dst + col] = hi;
    dst[(rows + row) * ld_dst + col] = round_to<Half>(v - widen(hi));
  }
}

// dst = rn(x): one rounding, for products of many rows (see gemm.h).
template <typename Half>
__global__ void __launch_bounds__(kThreads)
    round_rows_kernel(const float* x, int64_t ldx, int64_t rows, int64_t cols, Half* dst, int64_t ld_dst) {
  enter_kernel();  // launch.cuh: before any global memory access
  const int64_t col = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x;
  if (col >= cols) return;
  for (int64_t row = blockIdx.y; row < rows; row += gridDim.y) dst[row * ld_dst + col] = round_to<Half>(x[row * ldx + col]);
}

// The same four columns per thread (float4 in, four 16-bit values out as one 8-byte store), for aligned
// rows whose width is a multiple of 4: a prefill's x is tens of MB, and one element per thread left the
// pass at a third of the memory bandwidth.
template <typename Half>
__global__ void __launch_bounds__(kThreads)
    round_rows4_kernel(const float* x, int64_t ldx, int64_t rows, int64_t cols, Half* dst, int64_t ld_dst) {
  enter_kernel();  // launch.cuh: before any global memory access
  const int64_t col = (static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x) * 4;
  if (col >= cols) return;
  for (int64_t row = blockIdx.y; row < rows; row += gridDim.y) {
    const float4 v = *reinterpret_cast<const float4*>(x + row * ldx + col);
    struct alignas(8) Four {
      Half h[4];
    } out{{round_to<Half>(v.x), round_to<Half>(v.y), round_to<Half>(v.z), round_to<Half>(v.w)}};
    *reinterpret_cast<Four*>(dst + row * ld_dst + col) = out;
  }
}

__global__ void __launch_bounds__(kThreads)
    add_halves_kernel(float* y, int64_t ldy, int64_t rows, int64_t cols, const float* c, int64_t ldc,
                      bool keep_y) {
  enter_kernel();  // launch.cuh: before any global memory access
  const int64_t col = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x;
  if (col >= cols) return;
  for (int64_t row = blockIdx.y; row < rows; row += gridDim.y) {
    float* out = y + row * ldy + col;
    *out = (keep_y ? *out : 0.0f) + (c[row * ldc + col] + c[(rows + row) * ldc + col]);
  }
}

__global__ void __launch_bounds__(kThreads)
    bias_rows_kernel(float* y, int64_t ldy, int64_t rows, int64_t cols, const void* bias, int bias_kind,
                     int64_t bias_stride, bool accumulate) {
  enter_kernel();  // launch.cuh: before any global memory access
  const int64_t col = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x;
  if (col >= cols) return;
  const float b = bias_at(bias, bias_kind, bias_stride, col);
  for (int64_t row = blockIdx.y; row < rows; row += gridDim.y) {
    float* out = y + row * ldy + col;
    *out = (accumulate ? *out : 0.0f) + b;
  }
}

}  // namespace

void launch_split_rows(const float* x, int64_t ldx, int64_t rows, int64_t cols, void* dst, DType dst_dtype,
                       int64_t ld_dst, void* stream) {
  if (rows <= 0 || cols <= 0) return;
  const auto s = static_cast<cudaStream_t>(stream);
  if (dst_dtype == DType::bf16)
    launch_kernel(split_rows_kernel<__nv_bfloat16>, grid_for(rows, cols), kThreads, 0, s, x, ldx, rows, cols,
                  static_cast<__nv_bfloat16*>(dst), ld_dst);
  else
    launch_kernel(split_rows_kernel<__half>, grid_for(rows, cols), kThreads, 0, s, x, ldx, rows, cols,
                  static_cast<__half*>(dst), ld_dst);
  strata::cuda::check_last_error("gemm: split of x");
}

void launch_round_rows(const float* x, int64_t ldx, int64_t rows, int64_t cols, void* dst, DType dst_dtype,
                       int64_t ld_dst, void* stream) {
  if (rows <= 0 || cols <= 0) return;
  const auto s = static_cast<cudaStream_t>(stream);
  const bool vector = cols % 4 == 0 && ldx % 4 == 0 && ld_dst % 4 == 0 && reinterpret_cast<uintptr_t>(x) % 16 == 0 &&
                      reinterpret_cast<uintptr_t>(dst) % 8 == 0;
  if (vector) {
    const dim3 grid(static_cast<unsigned>((cols / 4 + kThreads - 1) / kThreads),
                    static_cast<unsigned>(std::min(rows, kMaxGridRows)));
    if (dst_dtype == DType::bf16)
      launch_kernel(round_rows4_kernel<__nv_bfloat16>, grid, kThreads, 0, s, x, ldx, rows, cols,
                    static_cast<__nv_bfloat16*>(dst), ld_dst);
    else
      launch_kernel(round_rows4_kernel<__half>, grid, kThreads, 0, s, x, ldx, rows, cols,
                    static_cast<__half*>(dst), ld_dst);
    strata::cuda::check_last_error("gemm: rounding of x");
    return;
  }
  if (dst_dtype == DType::bf16)
    launch_kernel(round_rows_kernel<__nv_bfloat16>, grid_for(rows, cols), kThreads, 0, s, x, ldx, rows, cols,
                  static_cast<__nv_bfloat16*>(dst), ld_dst);
  else
    launch_kernel(round_rows_kernel<__half>, grid_for(rows, cols), kThreads, 0, s, x, ldx, rows, cols,
                  static_cast<__half*>(dst), ld_dst);
  strata::cuda::check_last_error("gemm: rounding of x");
}

void launch_add_halves(float* y, int64_t ldy, int64_t rows, int64_t cols, const float* c, int64_t ldc,
                       bool keep_y, void* stream) {
  if (rows <= 0 || cols <= 0) return;
  launch_kernel(add_halves_kernel, grid_for(rows, cols), kThreads, 0, static_cast<cudaStream_t>(stream), 
      y, ldy, rows, cols, c, ldc, keep_y);
  strata::cuda::check_last_error("gemm: sum of the split halves");
}

void launch_bias_rows(float* y, int64_t ldy, int64_t rows, int64_t cols, const void* bias, DType bias_dtype,
                      int64_t bias_stride, bool accumulate, void* stream) {
  if (rows <= 0 || cols <= 0) return;
  launch_kernel(bias_rows_kernel, grid_for(rows, cols), kThreads, 0, static_cast<cudaStream_t>(stream), 
      y, ldy, rows, cols, bias, kind_of(bias_dtype), bias_stride, accumulate);
  strata::cuda::check_last_error("gemm: bias pass");
}

}  // namespace strata::kernels::cuda
