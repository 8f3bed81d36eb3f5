// Device helpers shared by the GEMM's kernels (gemm_skinny.cu, gemm_support.cu): reading one f32, bf16 or
// f16 element as f32, exactly as core/dtype.h converts on the CPU (bf16 is the top half of an f32; f16
// widens exactly), and the bias term.
#pragma once

#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>

namespace strata::kernels::cuda::gemm_device {

// The element types as template arguments (DType is a host enum; these mirror its float members).
enum Kind : int { kF32 = 0, kBf16 = 1, kF16 = 2 };

__device__ __forceinline__ float bf16_bits_to_f32(uint32_t bits) { return __uint_as_float(bits << 16); }
__device__ __forceinline__ float f16_bits_to_f32(uint32_t bits) {
  return __half2float(__ushort_as_half(static_cast<unsigned short>(bits)));
}

// Element i of an array of `kind`, as f32.
__device__ __forceinline__ float load_as_f32(const void* base, int kind, int64_t i) {
  if (kind == kF32) return static_cast<const float*>(base)[i];
  const uint32_t bits = static_cast<const uint16_t*>(base)[i];
  return kind == kBf16 ? bf16_bits_to_f32(bits) : f16_bits_to_f32(bits);
}

// The bias for output column j (0 without a bias).
__device__ __forceinline__ float bias_at(const void* bias, int kind, int64_t stride, int64_t j) {
  return bias == nullptr ? 0.0f : load_as_f32(bias, kind, j * stride);
}

}  // namespace strata::kernels::cuda::gemm_device
