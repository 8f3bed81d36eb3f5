// Widening loads of f32 / bf16 / f16 storage into f32 registers, shared by the gather and copy kernels.
// bf16 → f32 is a 16-bit shift and f16 → f32 is __half2float: both exact, so a widened copy equals the
// CPU's (core/dtype.h) bit for bit. load4 reads four consecutive elements in one access (a float4 or a
// uint2), so its pointer must be aligned to four elements.
#pragma once

#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>

namespace strata::kernels::cuda::widen {

// Storage tags: the element type in memory.
struct F32 {
  using Element = float;
};
struct Bf16 {
  using Element = uint16_t;
};
struct F16 {
  using Element = uint16_t;
};

__device__ __forceinline__ float to_f32(F32, float v) { return v; }
__device__ __forceinline__ float to_f32(Bf16, uint16_t bits) { return __uint_as_float(static_cast<uint32_t>(bits) << 16); }
__device__ __forceinline__ float to_f32(F16, uint16_t bits) { return __half2float(__ushort_as_half(bits)); }

template <typename Tag>
__device__ __forceinline__ float load1(const typename Tag::Element* p) {
  return to_f32(Tag{}, *p);
}

template <typename Tag>
__device__ __forceinline__ float4 load4(const typename Tag::Element* p) {
  if constexpr (sizeof(typename Tag::Element) == 4) {
    return *reinterpret_cast<const float4*>(p);
  } else {
    const uint2 packed = *reinterpret_cast<const uint2*>(p);  // elements 0,1 in .x and 2,3 in .y (little-endian)
    return make_float4(to_f32(Tag{}, static_cast<uint16_t>(packed.x & 0xffffu)),
                       to_f32(Tag{}, static_cast<uint16_t>(packed.x >> 16)),
                       to_f32(Tag{}, static_cast<uint16_t>(packed.y & 0xffffu)),
                       to_f32(Tag{}, static_cast<uint16_t>(packed.y >> 16)));
  }
}

inline bool aligned(const void* p, size_t bytes) { return reinterpret_cast<uintptr_t>(p) % bytes == 0; }

}  // namespace strata::kernels::cuda::widen
