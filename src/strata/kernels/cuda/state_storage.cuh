// Device-side loads and stores of recurrent-state elements (conv and SSM pools) in f32 or bf16: math is
// f32, a bf16 pool is widened on load and rounded to nearest even once on store, as the CPU kernels do.
// round_trip<T>(v) is what storage of type T hands back after storing v (used to carry values between
// tokens so a (1+S)-token call equals 1+S one-token calls).
#pragma once

#include <cuda_bf16.h>

namespace strata::kernels::cuda::state_storage {

__device__ __forceinline__ float load(const float* p) { return *p; }
__device__ __forceinline__ float load(const __nv_bfloat16* p) { return __bfloat162float(*p); }
__device__ __forceinline__ void store(float* p, float v) { *p = v; }
__device__ __forceinline__ void store(__nv_bfloat16* p, float v) { *p = __float2bfloat16_rn(v); }

template <typename StateT>
__device__ __forceinline__ float round_trip(float v);
template <>
__device__ __forceinline__ float round_trip<float>(float v) { return v; }
template <>
__device__ __forceinline__ float round_trip<__nv_bfloat16>(float v) {
  return __bfloat162float(__float2bfloat16_rn(v));
}

}  // namespace strata::kernels::cuda::state_storage
