// Activation math shared by the CPU decode kernels: SiLU, softplus and an AVX-512 exp, plus 16-lane
// loads/stores of f32 or bf16 rows. Scalar forms are the portable fallback and handle vector tails;
// the vector exp is a degree-7 polynomial after range reduction (about 1 ulp of std::exp).
#pragma once

#include <cmath>
#include <cstdint>

#include "strata/core/dtype.h"

#if defined(__AVX512F__)
// GCC 12.2 (PR105593) reports its own _mm512_undefined_* self-initialisations as uninitialised once
// intrinsics are inlined at -O3; the diagnostic is located in the header, so silence it there only.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop
#endif

namespace strata::kernels::cpu {

// SiLU as the CUDA conv kernel writes it, v / (1 + exp(-v)), so very negative v gives -0 rather than NaN.
inline float silu(float v) { return v / (1.0f + std::exp(-v)); }

// torch's softplus with threshold 20: above it the function is the identity to f32 precision.
inline float softplus(float v) { return v > 20.0f ? v : std::log1p(std::exp(v)); }

#if defined(__AVX512F__)

inline __m512 exp_ps(__m512 x) {
  // Below -104 even the smallest denormal is out of reach and exp(88.7) is the largest finite value; the
  // clamp keeps n finite for scalef, which rounds correctly into the denormal range.
  x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-104.0f)), _mm512_set1_ps(88.722f));
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  // ln2 split in two so n*ln2_hi is exact and r keeps full precision.
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.0f / 5040.0f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 720.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  return _mm512_scalef_ps(p, n);
}

inline __m512 silu_ps(__m512 v) {
  const __m512 e = exp_ps(_mm512_sub_ps(_mm512_setzero_ps(), v));
  return _mm512_div_ps(v, _mm512_add_ps(_mm512_set1_ps(1.0f), e));
}

inline __m512 load_bf16x16(const uint16_t* p) {
  const __m512i wide = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  return _mm512_castsi512_ps(_mm512_slli_epi32(wide, 16));
}

// Round to nearest even exactly like strata::f32_to_bf16 (the hardware VCVTNEPS2BF16 flushes
// denormals, which would make vector and scalar tails disagree). Returns f32 lanes whose low 16 bits
// are zero: the bf16 value, still widened.
inline __m512i bf16_rounded_bits(__m512 v) {
  const __m512i u = _mm512_castps_si512(v);
  const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
  __m512i rounded = _mm512_add_epi32(u, _mm512_add_epi32(_mm512_set1_epi32(0x7fff), lsb));
  const __m512i abs = _mm512_and_si512(u, _mm512_set1_epi32(0x7fffffff));
  const __mmask16 nan = _mm512_cmpgt_epi32_mask(abs, _mm512_set1_epi32(0x7f800000));
  rounded = _mm512_mask_mov_epi32(rounded, nan, _mm512_or_si512(u, _mm512_set1_epi32(0x00400000)));
  return _mm512_and_si512(rounded, _mm512_set1_epi32(static_cast<int>(0xffff0000u)));
}

inline void store_bf16x16(uint16_t* p, __m512 v) {
  const __m512i bits = _mm512_srli_epi32(bf16_rounded_bits(v), 16);
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), _mm512_cvtepi32_epi16(bits));
}

// Rows stored as f32 or bf16 (state pools), read and written as f32 lanes.
inline __m512 load_x16(const float* p) { return _mm512_loadu_ps(p); }
inline __m512 load_x16(const uint16_t* p) { return load_bf16x16(p); }
inline void store_x16(float* p, __m512 v) { _mm512_storeu_ps(p, v); }
inline void store_x16(uint16_t* p, __m512 v) { store_bf16x16(p, v); }

// Horizontal sum. (GCC 12's _mm512_reduce_add_ps trips -Werror=uninitialized inside its own header.)
inline float hsum_ps(__m512 v) {
  v = _mm512_add_ps(v, _mm512_shuffle_f32x4(v, v, _MM_SHUFFLE(1, 0, 3, 2)));
  const __m256 s = _mm512_castps512_ps256(v);
  __m128 q = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
  q = _mm_add_ps(q, _mm_movehl_ps(q, q));
  q = _mm_add_ss(q, _mm_movehdup_ps(q));
  return _mm_cvtss_f32(q);
}

inline __m512 round_trip_x16(__m512 v, const float*) { return v; }
inline __m512 round_trip_x16(__m512 v, const uint16_t*) { return _mm512_castsi512_ps(bf16_rounded_bits(v)); }

#endif  // __AVX512F__

inline float load_x1(const float* p) { return *p; }
inline float load_x1(const uint16_t* p) { return bf16_to_f32(*p); }
inline void store_x1(float* p, float v) { *p = v; }
inline void store_x1(uint16_t* p, float v) { *p = f32_to_bf16(v); }
// The value a store then load would give; lets a multi-token kernel carry exactly what a chain of
// single-token calls would have stored.
inline float round_trip(float v, const float*) { return v; }
inline float round_trip(float v, const uint16_t*) { return bf16_to_f32(f32_to_bf16(v)); }

}  // namespace strata::kernels::cpu
