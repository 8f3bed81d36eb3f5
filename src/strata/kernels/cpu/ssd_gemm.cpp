#include "strata/kernels/cpu/ssd_gemm.h"

#include "strata/kernels/cpu/activations.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace strata::kernels::cpu {

namespace {

// Row-block height shared by both paths, so GemmCausal::k_through_row means the same thing everywhere.
constexpr int64_t kRowBlock = 8;

int64_t k_end_for_block(int64_t row0, int64_t rows, int64_t k, GemmCausal causal) {
  return causal == GemmCausal::k_through_row ? std::min(k, row0 + rows) : k;
}

}  // namespace

namespace {

// Portable register tile: ROWS rows × 16 columns in GCC vector-extension registers (8 floats: one ymm
// with AVX2, two xmm without), so the accumulators stay in registers; narrower column tails use scalars.
typedef float Vec8 __attribute__((vector_size(32)));

inline Vec8 load8(const float* p) {
  Vec8 v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

template <int ROWS>
void portable_tile(int64_t k_end, const float* a, int64_t lda, const float* b, int64_t ldb, float* c,
                   int64_t ldc, int64_t width, bool accumulate) {
  if (width == 16) {
    Vec8 acc[ROWS][2] = {};
    for (int64_t kk = 0; kk < k_end; ++kk) {
      const Vec8 b0 = load8(b + kk * ldb), b1 = load8(b + kk * ldb + 8);
#pragma GCC unroll 4
      for (int r = 0; r < ROWS; ++r) {
        const float a_val = a[r * lda + kk];
        acc[r][0] += a_val * b0;
        acc[r][1] += a_val * b1;
      }
    }
    for (int r = 0; r < ROWS; ++r)
      for (int j = 0; j < 16; ++j)
        c[r * ldc + j] = (accumulate ? c[r * ldc + j] : 0.0f) + acc[r][j / 8][j % 8];
    return;
  }
  float acc[ROWS][16] = {};
  for (int64_t kk = 0; kk < k_end; ++kk)
    for (int r = 0; r < ROWS; ++r)
      for (int64_t j = 0; j < width; ++j) acc[r][j] += a[r * lda + kk] * b[kk * ldb + j];
  for (int r = 0; r < ROWS; ++r)
    for (int64_t j = 0; j < width; ++j) c[r * ldc + j] = (accumulate ? c[r * ldc + j] : 0.0f) + acc[r][j];
}

}  // namespace

void ssd_gemm_portable(int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* b,
                       int64_t ldb, float* c, int64_t ldc, bool accumulate, GemmCausal causal) {
  constexpr int64_t kRows = 4;  // half a kRowBlock, so causal limits stay those of the 8-row block
  for (int64_t col = 0; col < n; col += 16) {
    const int64_t width = std::min<int64_t>(16, n - col);
    for (int64_t row0 = 0; row0 < m; row0 += kRows) {
      const int64_t rows = std::min(kRows, m - row0);
      if (causal == GemmCausal::n_through_row && col >= row0 + rows) continue;
      const int64_t block0 = row0 / kRowBlock * kRowBlock;
      const int64_t k_end = k_end_for_block(block0, std::min(kRowBlock, m - block0), k, causal);
      const float* a_block = a + row0 * lda;
      float* c_block = c + row0 * ldc + col;
      switch (rows) {
        case 4:
          portable_tile<4>(k_end, a_block, lda, b + col, ldb, c_block, ldc, width, accumulate);
          break;
        case 3:
          portable_tile<3>(k_end, a_block, lda, b + col, ldb, c_block, ldc, width, accumulate);
          break;
        case 2:
          portable_tile<2>(k_end, a_block, lda, b + col, ldb, c_block, ldc, width, accumulate);
          break;
        default:
          portable_tile<1>(k_end, a_block, lda, b + col, ldb, c_block, ldc, width, accumulate);
          break;
      }
    }
  }
}

void ssd_exp_nonpositive_portable(const float* in, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = std::exp(std::min(in[i], 0.0f));
}

#if defined(__AVX512F__)

namespace {

inline __mmask16 tail_mask(int64_t remaining) {
  if (remaining >= 16) return static_cast<__mmask16>(0xffff);
  if (remaining <= 0) return 0;
  return static_cast<__mmask16>((1u << remaining) - 1u);
}

// One register tile: ROWS rows × VECS·16 columns of C, accumulated over k_end steps of k. Each step loads
// VECS vectors of B and broadcasts one A element per row: ROWS·VECS FMAs per VECS loads.
template <int ROWS, int VECS>
inline void tile(int64_t k_end, const float* a, int64_t lda, const float* b, int64_t ldb, float* c,
                 int64_t ldc, __mmask16 mask0, __mmask16 mask1, bool accumulate) {
  // Fully unrolled so GCC keeps acc in registers (a rolled loop over it spills every step).
  __m512 acc[ROWS][VECS];
#pragma GCC unroll 8
  for (int r = 0; r < ROWS; ++r)
#pragma GCC unroll 2
    for (int v = 0; v < VECS; ++v) acc[r][v] = _mm512_setzero_ps();
  for (int64_t kk = 0; kk < k_end; ++kk) {
    const float* b_row = b + kk * ldb;
    __m512 b_vec[VECS];
    b_vec[0] = _mm512_maskz_loadu_ps(mask0, b_row);
    if constexpr (VECS == 2) b_vec[1] = _mm512_maskz_loadu_ps(mask1, b_row + 16);
#pragma GCC unroll 8
    for (int r = 0; r < ROWS; ++r) {
      const __m512 a_val = _mm512_set1_ps(a[r * lda + kk]);
#pragma GCC unroll 2
      for (int v = 0; v < VECS; ++v) acc[r][v] = _mm512_fmadd_ps(a_val, b_vec[v], acc[r][v]);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < ROWS; ++r) {
    float* c_row = c + r * ldc;
    for (int v = 0; v < VECS; ++v) {
      const __mmask16 mask = v == 0 ? mask0 : mask1;
      __m512 result = acc[r][v];
      if (accumulate) result = _mm512_add_ps(result, _mm512_maskz_loadu_ps(mask, c_row + 16 * v));
      _mm512_mask_storeu_ps(c_row + 16 * v, mask, result);
    }
  }
}

template <int VECS>
void tile_rows(int64_t rows, int64_t k_end, const float* a, int64_t lda, const float* b, int64_t ldb,
               float* c, int64_t ldc, __mmask16 mask0, __mmask16 mask1, bool accumulate) {
  switch (rows) {
    case 8:
      tile<8, VECS>(k_end, a, lda, b, ldb, c, ldc, mask0, mask1, accumulate);
      break;
    case 7:
      tile<7, VECS>(k_end, a, lda, b, ldb, c, ldc, mask0, mask1, accumulate);
      break;
    case 6:
      tile<6, VECS>(k_end, a, lda, b, ldb, c, ldc, mask0, mask1, accumulate);
      break;
    case 5:
      tile<5, VECS>(k_end, a, lda, b, ldb, c, ldc, mask0, mask1, accumulate);
      break;
    case 4:
      tile<4, VECS>(k_end, a, lda, b, ldb, c, ldc, mask0, mask1, accumulate);
      break;
    case 3:
      tile<3, VECS>(k_end, a, lda, b, ldb, c, ldc, mask0, mask1, accumulate);
      break;
    case 2:
      tile<2, VECS>(k_end, a, lda, b, ldb, c, ldc, mask0, mask1, accumulate);
      break;
    default:
      tile<1, VECS>(k_end, a, lda, b, ldb, c, ldc, mask0, mask1, accumulate);
      break;
  }
}

// exp of arguments <= 0 (decays): the shared vector exp with the argument clamped at 0.
inline __m512 exp_nonpositive(__m512 x) { return exp_ps(_mm512_min_ps(x, _mm512_setzero_ps())); }

}  // namespace

void ssd_gemm(int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* b, int64_t ldb,
              float* c, int64_t ldc, bool accumulate, GemmCausal causal) {
  // Column strips outermost: a strip of B (k × 32 floats, 32 KB at k = 256) stays in L1 while every
  // row block of A streams past it.
  for (int64_t col = 0; col < n; col += 32) {
    const int64_t width = std::min<int64_t>(32, n - col);
    const __mmask16 mask0 = tail_mask(width);
    const __mmask16 mask1 = tail_mask(width - 16);
    for (int64_t row0 = 0; row0 < m; row0 += kRowBlock) {
      const int64_t rows = std::min(kRowBlock, m - row0);
      if (causal == GemmCausal::n_through_row && col >= row0 + rows) continue;
      const int64_t k_end = k_end_for_block(row0, rows, k, causal);
      const float* a_block = a + row0 * lda;
      float* c_block = c + row0 * ldc + col;
      if (width > 16) {
        tile_rows<2>(rows, k_end, a_block, lda, b + col, ldb, c_block, ldc, mask0, mask1, accumulate);
      } else {
        tile_rows<1>(rows, k_end, a_block, lda, b + col, ldb, c_block, ldc, mask0, mask1, accumulate);
      }
    }
  }
}

void ssd_exp_nonpositive(const float* in, float* out, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(out + i, exp_nonpositive(_mm512_loadu_ps(in + i)));
  if (i < n) {
    const __mmask16 mask = tail_mask(n - i);
    _mm512_mask_storeu_ps(out + i, mask, exp_nonpositive(_mm512_maskz_loadu_ps(mask, in + i)));
  }
}

#else  // no AVX-512: the portable tile and std::exp

void ssd_gemm(int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* b, int64_t ldb,
              float* c, int64_t ldc, bool accumulate, GemmCausal causal) {
  ssd_gemm_portable(m, n, k, a, lda, b, ldb, c, ldc, accumulate, causal);
}

void ssd_exp_nonpositive(const float* in, float* out, int64_t n) { ssd_exp_nonpositive_portable(in, out, n); }

#endif

}  // namespace strata::kernels::cpu
