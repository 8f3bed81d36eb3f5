// Converting copies of short rows between f32 working buffers and f32/bf16 state storage.
// bf16 stores round to nearest even, identically in the vector body and the scalar tail.
#pragma once

#include <cstdint>

#include "strata/kernels/cpu/activations.h"

namespace strata::kernels::cpu {

template <typename StateT>
inline void load_row(float* dst, const StateT* src, int64_t n) {
  int64_t c = 0;
#if defined(__AVX512F__)
  for (; c + 16 <= n; c += 16) _mm512_storeu_ps(dst + c, load_x16(src + c));
#endif
  for (; c < n; ++c) dst[c] = load_x1(src + c);
}

template <typename StateT>
inline void store_row(StateT* dst, const float* src, int64_t n) {
  int64_t c = 0;
#if defined(__AVX512F__)
  for (; c + 16 <= n; c += 16) store_x16(dst + c, _mm512_loadu_ps(src + c));
#endif
  for (; c < n; ++c) store_x1(dst + c, src[c]);
}

}  // namespace strata::kernels::cpu
