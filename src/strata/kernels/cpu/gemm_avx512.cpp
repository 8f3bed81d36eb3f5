// AVX-512 GEMM kernels. Weights are widened to f32 in registers (bf16: a 16-bit shift, which is exact;
// f16: vcvtph2ps, also exact) and multiplied in f32, so results match an f32 reference up to summation
// order. We deliberately do not use vdpbf16ps: it would round x to bf16 and lose precision.
#include "strata/kernels/cpu/gemm_kernels.h"

#include <algorithm>
#include <array>
#include <utility>

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__)
#include <immintrin.h>
#define STRATA_GEMM_AVX512 1
#else
#define STRATA_GEMM_AVX512 0
#endif

namespace strata::kernels::detail {

#if STRATA_GEMM_AVX512

bool avx512_available() {
  static const bool available = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                                __builtin_cpu_supports("avx512vl");
  return available;
}

namespace {

// Loaders of 16 consecutive weight elements as f32, one per stored dtype.
struct F32Weight {
  using T = float;
  static __m512 load(const T* p) { return _mm512_loadu_ps(p); }
  static __m512 load(const T* p, __mmask16 m) { return _mm512_maskz_loadu_ps(m, p); }
  static float scalar(T v) { return v; }
};
struct Bf16Weight {
  using T = uint16_t;
  static __m512 widen(__m256i h) {
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
  }
  static __m512 load(const T* p) { return widen(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))); }
  static __m512 load(const T* p, __mmask16 m) { return widen(_mm256_maskz_loadu_epi16(m, p)); }
  static float scalar(T v) { return bf16_to_f32(v); }
};
struct F16Weight {
  using T = uint16_t;
  static __m512 load(const T* p) { return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))); }
  static __m512 load(const T* p, __mmask16 m) { return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, p)); }
  static float scalar(T v) { return f16_to_f32(v); }
};

// Horizontal sum. (GCC 12's _mm512_reduce_add_ps trips -Wuninitialized inside its own header.)
float sum_lanes(__m512 v) {
  __m512 s = _mm512_add_ps(v, _mm512_shuffle_f32x4(v, v, _MM_SHUFFLE(1, 0, 3, 2)));
  s = _mm512_add_ps(s, _mm512_shuffle_f32x4(s, s, _MM_SHUFFLE(2, 3, 0, 1)));
  __m128 q = _mm512_castps512_ps128(s);
  q = _mm_add_ps(q, _mm_movehl_ps(q, q));
  q = _mm_add_ss(q, _mm_movehdup_ps(q));
  return _mm_cvtss_f32(q);
}

__mmask16 low_mask(int64_t count) {
  return count >= 16 ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << count) - 1u);
}

// ---- rows: y[m0.., n0..] = dot products of MR x rows with NR weight rows over the whole K ----------
// Every weight element is loaded once per tile and used MR times; x rows stay in L1/L2.

// Weight rows per tile for MR x rows: as many as fit in 32 zmm registers with MR·NR accumulators,
// NR weight vectors and one x vector.
constexpr int rows_tile_cols(int mr) {
  constexpr std::array<int, 9> cols{0, 8, 8, 6, 6, 4, 4, 3, 3};
  return cols[static_cast<size_t>(mr)];
}
constexpr int kRowsMaxM = 8;
constexpr int64_t kRowsPrefetchMaxK = 2048;  // rows of at most 4 KB (bf16) get the next-tile prefetch
constexpr int64_t kRowsGroupCols = 24;  // a multiple of every rows_tile_cols: weight rows kept hot in L2

template <class W, int MR, int NR>
void rows_tile(const GemmProblem& p, int64_t m0, int64_t n0) {
  const float* x = p.x + m0 * p.ldx;
  const typename W::T* w = static_cast<const typename W::T*>(p.weight) + n0 * p.ldw;
  __m512 acc[MR][NR];
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
    for (int j = 0; j < NR; ++j) acc[i][j] = _mm512_setzero_ps();
  int64_t k = 0;
  for (; k + 16 <= p.k; k += 16) {
    __m512 wv[NR];
    // Decode streams every weight row once from DRAM. Rows of a few KB are too short for the hardware
    // prefetcher to ramp up on, so fetch the next tile's rows (contiguous in memory) while this tile
    // runs: NR·32 bytes of it per step, the rate this tile consumes its own. Long rows stream well on
    // their own, and prefetching a whole tile of them ahead would overflow L1.
    if (MR <= 2 && p.k <= kRowsPrefetchMaxK) {
      const char* next = reinterpret_cast<const char*>(w + NR * p.ldw) + (k / 16) * NR * 32;
#pragma GCC unroll 8
      for (int line = 0; line < NR / 2; ++line) _mm_prefetch(next + line * 64, _MM_HINT_T0);
    }
#pragma GCC unroll 8
    for (int j = 0; j < NR; ++j) wv[j] = W::load(w + j * p.ldw + k);
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) {
      const __m512 xv = _mm512_loadu_ps(x + i * p.ldx + k);
#pragma GCC unroll 8
      for (int j = 0; j < NR; ++j) acc[i][j] = _mm512_fmadd_ps(xv, wv[j], acc[i][j]);
    }
  }
  if (k < p.k) {
    const __mmask16 mask = low_mask(p.k - k);
    __m512 wv[NR];
#pragma GCC unroll 8
    for (int j = 0; j < NR; ++j) wv[j] = W::load(w + j * p.ldw + k, mask);
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) {
      const __m512 xv = _mm512_maskz_loadu_ps(mask, x + i * p.ldx + k);
#pragma GCC unroll 8
      for (int j = 0; j < NR; ++j) acc[i][j] = _mm512_fmadd_ps(xv, wv[j], acc[i][j]);
    }
  }
  for (int i = 0; i < MR; ++i) {
    float* out = p.y + (m0 + i) * p.ldy + n0;
    for (int j = 0; j < NR; ++j) {
      const float base = (p.accumulate ? out[j] : 0.0f) + p.bias_at(n0 + j);
      out[j] = base + sum_lanes(acc[i][j]);
    }
  }
}

// All weight rows [n_begin, n_end) against x rows [m0, m0 + MR).
template <class W, int MR>
void rows_strip(const GemmProblem& p, int64_t m0, int64_t n_begin, int64_t n_end) {
  constexpr int NR = rows_tile_cols(MR);
  int64_t n = n_begin;
  for (; n + NR <= n_end; n += NR) rows_tile<W, MR, NR>(p, m0, n);
  for (; n < n_end; ++n) rows_tile<W, MR, 1>(p, m0, n);
}

template <class W, size_t... I>
constexpr auto rows_strip_table(std::index_sequence<I...>) {
  using Fn = void (*)(const GemmProblem&, int64_t, int64_t, int64_t);
  return std::array<Fn, sizeof...(I)>{rows_strip<W, static_cast<int>(I) + 1>...};
}

template <class W>
void rows_kernel(const GemmProblem& p, int64_t n_begin, int64_t n_end) {
  static constexpr auto strips = rows_strip_table<W>(std::make_index_sequence<kRowsMaxM>{});
  for (int64_t g = n_begin; g < n_end; g += kRowsGroupCols) {
    const int64_t g_end = std::min(g + kRowsGroupCols, n_end);
    for (int64_t m0 = 0; m0 < p.m; m0 += kRowsMaxM) {
      const int64_t mr = std::min<int64_t>(kRowsMaxM, p.m - m0);
      strips[static_cast<size_t>(mr - 1)](p, m0, g, g_end);
    }
  }
}

// ---- panels: blocked outer products for many rows ---------------------------------------------------
// A panel of 32 weight rows × kPanelDepth columns is transposed to f32 [k][32] on the stack once and
// reused by every row tile of x; a tile holds MR × 32 accumulators (MR = 12 uses 24 of 32 registers).

constexpr int kPanelMaxM = 12;
// Depth 1024: a 128 KiB f32 panel on the stack, L2-resident while x rows stream past; deeper blocks
// mean fewer read-modify-write passes over y (256 was ~15% slower, 2048 no faster; bench/gemm_bench).
constexpr int64_t kPanelDepth = 1024;
constexpr int64_t kPanelRowBlock = 960;  // x rows per pass over the panels: the re-read x block stays in L3

// Transposes 16 vectors in place: r[i][j] becomes r[j][i].
void transpose16(__m512 r[16]) {
  __m512 t[16], u[16];
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
  }
  // u[4g + c]: in 128-bit lane l, rows 4g..4g+3 of column 4l + c.
  for (int g = 0; g < 16; g += 4) {
    u[g + 0] = _mm512_shuffle_ps(t[g], t[g + 2], 0x44);
    u[g + 1] = _mm512_shuffle_ps(t[g], t[g + 2], 0xee);
    u[g + 2] = _mm512_shuffle_ps(t[g + 1], t[g + 3], 0x44);
    u[g + 3] = _mm512_shuffle_ps(t[g + 1], t[g + 3], 0xee);
  }
  for (int h = 0; h < 16; h += 8) {
    for (int c = 0; c < 4; ++c) {
      t[h + c] = _mm512_shuffle_f32x4(u[h + c], u[h + 4 + c], 0x88);
      t[h + 4 + c] = _mm512_shuffle_f32x4(u[h + c], u[h + 4 + c], 0xdd);
    }
  }
  for (int c = 0; c < 8; ++c) {
    r[c] = _mm512_shuffle_f32x4(t[c], t[c + 8], 0x88);
    r[c + 8] = _mm512_shuffle_f32x4(t[c], t[c + 8], 0xdd);
  }
}

// panel[k][j] = weight[n0 + j][k0 + k] as f32, zero for j >= cols. Widening and transposing 16×16
// blocks in registers keeps this well under a cycle per element (a scalar loop took ~5).
template <class W>
void pack_panel(const GemmProblem& p, int64_t n0, int64_t cols, int64_t k0, int64_t depth, float* panel) {
  const typename W::T* w = static_cast<const typename W::T*>(p.weight) + n0 * p.ldw + k0;
  for (int64_t half = 0; half < kPanelCols; half += 16) {
    for (int64_t k = 0; k < depth; k += 16) {
      const int64_t valid_k = std::min<int64_t>(16, depth - k);
      const __mmask16 mask = low_mask(valid_k);
      __m512 r[16];
#pragma GCC unroll 16
      for (int j = 0; j < 16; ++j) {
        const int64_t col = half + j;
        if (col >= cols) r[j] = _mm512_setzero_ps();
        else if (valid_k == 16) r[j] = W::load(w + col * p.ldw + k);
        else r[j] = W::load(w + col * p.ldw + k, mask);
      }
      transpose16(r);
      for (int64_t kk = 0; kk < valid_k; ++kk) _mm512_store_ps(panel + (k + kk) * kPanelCols + half, r[kk]);
    }
  }
}

struct PanelTileArgs {
  const float* x;  // row tile start at column k0
  int64_t ldx;
  const float* panel;
  int64_t depth;
  float* y;  // row tile start at column n0
  int64_t ldy;
  __mmask16 mask0, mask1;  // valid columns in each half of the 32
  bool load_y;             // add into the existing y (later depth blocks, or accumulate)
  const float* add;        // 32 values added once (bias on the first depth block), or nullptr
};

template <int MR>
void panel_tile(const PanelTileArgs& a) {
  __m512 acc[MR][2];
#pragma GCC unroll 12
  for (int i = 0; i < MR; ++i) acc[i][0] = acc[i][1] = _mm512_setzero_ps();
  const float* b = a.panel;
  for (int64_t k = 0; k < a.depth; ++k, b += kPanelCols) {
    const __m512 b0 = _mm512_load_ps(b);
    const __m512 b1 = _mm512_load_ps(b + 16);
#pragma GCC unroll 12
    for (int i = 0; i < MR; ++i) {
      const __m512 xi = _mm512_set1_ps(a.x[i * a.ldx + k]);
      acc[i][0] = _mm512_fmadd_ps(xi, b0, acc[i][0]);
      acc[i][1] = _mm512_fmadd_ps(xi, b1, acc[i][1]);
    }
  }
  for (int i = 0; i < MR; ++i) {
    float* row = a.y + i * a.ldy;
    __m512 r0 = acc[i][0], r1 = acc[i][1];
    if (a.add != nullptr) {
      r0 = _mm512_add_ps(r0, _mm512_load_ps(a.add));
      r1 = _mm512_add_ps(r1, _mm512_load_ps(a.add + 16));
    }
    if (a.load_y) {
      r0 = _mm512_add_ps(r0, _mm512_maskz_loadu_ps(a.mask0, row));
      r1 = _mm512_add_ps(r1, _mm512_maskz_loadu_ps(a.mask1, row + 16));
    }
    _mm512_mask_storeu_ps(row, a.mask0, r0);
    _mm512_mask_storeu_ps(row + 16, a.mask1, r1);
  }
}

template <size_t... I>
constexpr auto panel_tile_table(std::index_sequence<I...>) {
  using Fn = void (*)(const PanelTileArgs&);
  return std::array<Fn, sizeof...(I)>{panel_tile<static_cast<int>(I) + 1>...};
}

template <class W>
void panels_kernel(const GemmProblem& p, int64_t n_begin, int64_t n_end) {
  static constexpr auto tiles = panel_tile_table(std::make_index_sequence<kPanelMaxM>{});
  alignas(64) float panel[kPanelDepth * kPanelCols];
  alignas(64) float bias_block[kPanelCols];
  // Depth blocks outermost: the x block [M, kPanelDepth] is re-read by every panel, so it should stay
  // in L2/L3 while the panels of this thread's columns pass by.
  for (int64_t k0 = 0; k0 < p.k; k0 += kPanelDepth) {
    const int64_t depth = std::min(kPanelDepth, p.k - k0);
    const bool first = k0 == 0;
    for (int64_t m_begin = 0; m_begin < p.m; m_begin += kPanelRowBlock) {
    const int64_t m_end = std::min(p.m, m_begin + kPanelRowBlock);
    for (int64_t n0 = n_begin; n0 < n_end; n0 += kPanelCols) {
      const int64_t cols = std::min(kPanelCols, n_end - n0);
      pack_panel<W>(p, n0, cols, k0, depth, panel);
      const bool add_bias = first && p.bias != nullptr;
      if (add_bias)
        for (int64_t j = 0; j < kPanelCols; ++j) bias_block[j] = j < cols ? p.bias_at(n0 + j) : 0.0f;
      PanelTileArgs a{};
      a.ldx = p.ldx;
      a.panel = panel;
      a.depth = depth;
      a.ldy = p.ldy;
      a.mask0 = low_mask(cols);
      a.mask1 = cols > 16 ? low_mask(cols - 16) : static_cast<__mmask16>(0);
      a.load_y = !first || p.accumulate;
      a.add = add_bias ? bias_block : nullptr;
      for (int64_t m0 = m_begin; m0 < m_end; m0 += kPanelMaxM) {
        const int64_t mr = std::min<int64_t>(kPanelMaxM, m_end - m0);
        a.x = p.x + m0 * p.ldx + k0;
        a.y = p.y + m0 * p.ldy + n0;
        tiles[static_cast<size_t>(mr - 1)](a);
      }
    }
    }
  }
}

// ---- row_lanes: x rows in the vector lanes, weight elements broadcast (M = 16 or 32) ---------------
// With 16+ rows, `rows` leaves FMA throughput on the table: every small weight tile re-reads the x
// rows and ends in horizontal sums. Here x is transposed once per depth block so that one vector holds
// R = 16 rows at one k (R = 32: two vectors), and each weight element, widened once to f32, is
// broadcast into R/16 FMAs. No horizontal sums, and the broadcast is a plain load (an FMA memory
// operand), which leaves the FP pipes to the FMAs. Rows are padded to R with zeros, so the kernel is
// only worth it with (nearly) full vectors. Fewer rows per vector (R = 8 rows × 2 k per vector) was
// tried: its 64-bit broadcasts cost a shuffle per FMA on Zen 4 and ran ~25% slower than `rows`.

constexpr int kLanesTileCols = static_cast<int>(kRowLanesTileCols);  // weight rows per tile
// The packed x block: 128 KiB on the stack, L2-resident, so depth blocks are long (2048 k for 16 rows,
// 1024 for 32) and each weight row streams from DRAM in long runs; y is read-modified-written once per
// block.
constexpr int64_t kLanesXBlockFloats = 32768;
// Weight rows are widened to f32 this many k at a time (12 KiB per tile, in L1 while it is consumed).
constexpr int64_t kLanesWidenDepth = 256;
// While one tile is widened, the same depth range of the next tile's rows (the next one to be read
// from DRAM: tiles walk down the rows within a depth block) is prefetched into L2, so each row
// segment, too short for the hardware prefetcher to ramp up on, arrives a whole tile ahead.

// Depth of one block for R rows: the packed x block is kLanesXBlockFloats.
constexpr int64_t lanes_depth(int rows) { return kLanesXBlockFloats / rows; }

// xt[k][i] = x[i][k0 + k], zero past the rows or the depth, so padded lanes and the depth tail
// contribute exact zeros.
template <int R>
void pack_x_lanes(const GemmProblem& p, int64_t k0, int64_t depth, int64_t padded_depth, float* xt) {
  for (int64_t k = 0; k < padded_depth; ++k)
    for (int i = 0; i < R; ++i) xt[k * R + i] = (i < p.m && k < depth) ? p.x[i * p.ldx + k0 + k] : 0.0f;
}

// wt[j][k] = w[j * ldw + k] as f32 for k < depth, zero up to padded_depth (a multiple of 16).
template <class W, int NR>
void widen_rows(const typename W::T* w, int64_t ldw, int64_t depth, int64_t padded_depth, float* wt) {
  const int64_t next_tile = static_cast<int64_t>(kLanesTileCols) * ldw;
#pragma GCC unroll 16
  for (int j = 0; j < NR; ++j) {
    const typename W::T* row = w + j * ldw;
    float* out = wt + j * kLanesWidenDepth;
    int64_t k = 0;
    for (; k + 16 <= depth; k += 16) {
      if (k % (64 / sizeof(typename W::T)) == 0)
        _mm_prefetch(reinterpret_cast<const char*>(row + next_tile + k), _MM_HINT_T1);
      _mm512_store_ps(out + k, W::load(row + k));
    }
    if (k < depth) _mm512_store_ps(out + k, W::load(row + k, low_mask(depth - k)));
    for (k = (depth + 15) / 16 * 16; k < padded_depth; k += 16) _mm512_store_ps(out + k, _mm512_setzero_ps());
  }
}

// Sums of the packed x rows against NR weight rows [n0, n0 + NR) over one depth block [k0, k0 + depth);
// out[j][lane] per weight row. The accumulators stay in registers across the whole block.
template <class W, int R, int NR>
void lanes_tile(const GemmProblem& p, const float* xt, int64_t n0, int64_t k0, int64_t depth, float* out) {
  constexpr int V = R / 16;
  alignas(64) float wt[NR * kLanesWidenDepth];
  const typename W::T* w = static_cast<const typename W::T*>(p.weight) + n0 * p.ldw + k0;
  __m512 acc[NR][V];
#pragma GCC unroll 16
  for (int j = 0; j < NR; ++j)
#pragma GCC unroll 2
    for (int v = 0; v < V; ++v) acc[j][v] = _mm512_setzero_ps();
  for (int64_t c0 = 0; c0 < depth; c0 += kLanesWidenDepth) {
    const int64_t chunk = std::min(kLanesWidenDepth, depth - c0);
    const int64_t padded = (chunk + 15) / 16 * 16;
    widen_rows<W, NR>(w + c0, p.ldw, chunk, padded, wt);
    const float* xs = xt + c0 * R;
    for (int64_t k = 0; k < padded; ++k, xs += R) {
      __m512 xv[V];
#pragma GCC unroll 2
      for (int v = 0; v < V; ++v) xv[v] = _mm512_load_ps(xs + 16 * v);
#pragma GCC unroll 16
      for (int j = 0; j < NR; ++j) {
        const __m512 wv = _mm512_set1_ps(wt[j * kLanesWidenDepth + k]);
#pragma GCC unroll 2
        for (int v = 0; v < V; ++v) acc[j][v] = _mm512_fmadd_ps(xv[v], wv, acc[j][v]);
      }
    }
  }
#pragma GCC unroll 16
  for (int j = 0; j < NR; ++j)
#pragma GCC unroll 2
    for (int v = 0; v < V; ++v) _mm512_store_ps(out + (j * V + v) * 16, acc[j][v]);
}

template <class W, int R, size_t... I>
constexpr auto lanes_tile_table(std::index_sequence<I...>) {
  using Fn = void (*)(const GemmProblem&, const float*, int64_t, int64_t, int64_t, float*);
  return std::array<Fn, sizeof...(I)>{lanes_tile<W, R, static_cast<int>(I) + 1>...};
}

template <class W, int R>
void row_lanes_kernel(const GemmProblem& p, int64_t n_begin, int64_t n_end) {
  constexpr int64_t kDepth = lanes_depth(R);
  static constexpr auto tiles = lanes_tile_table<W, R>(std::make_index_sequence<kLanesTileCols>{});
  alignas(64) float xt[kDepth * R];
  alignas(64) float sums[kLanesTileCols * R];
  // Depth blocks outermost: the x block is packed once per thread and re-read (from L2) by every
  // weight tile; the partial sums of later blocks add into y.
  for (int64_t k0 = 0; k0 < p.k; k0 += kDepth) {
    const int64_t depth = std::min(kDepth, p.k - k0);
    const bool first = k0 == 0;
    pack_x_lanes<R>(p, k0, depth, (depth + 15) / 16 * 16, xt);
    for (int64_t n0 = n_begin; n0 < n_end; n0 += kLanesTileCols) {
      const int64_t cols = std::min<int64_t>(kLanesTileCols, n_end - n0);
      tiles[static_cast<size_t>(cols - 1)](p, xt, n0, k0, depth, sums);
      for (int64_t j = 0; j < cols; ++j) {
        const float add = first ? p.bias_at(n0 + j) : 0.0f;
        for (int64_t i = 0; i < p.m; ++i) {
          float& out = p.y[i * p.ldy + n0 + j];
          out = (first && !p.accumulate ? 0.0f : out) + add + sums[j * R + i];
        }
      }
    }
  }
}

template <class W>
void row_lanes_dispatch(const GemmProblem& p, int64_t n_begin, int64_t n_end) {
  if (p.m <= 16) row_lanes_kernel<W, 16>(p, n_begin, n_end);
  else row_lanes_kernel<W, 32>(p, n_begin, n_end);
}

}  // namespace

void gemm_rows_avx512(const GemmProblem& p, int64_t n_begin, int64_t n_end) {
  switch (p.weight_dtype) {
    case DType::bf16: rows_kernel<Bf16Weight>(p, n_begin, n_end); break;
    case DType::f16: rows_kernel<F16Weight>(p, n_begin, n_end); break;
    default: rows_kernel<F32Weight>(p, n_begin, n_end); break;
  }
}

void gemm_panels_avx512(const GemmProblem& p, int64_t n_begin, int64_t n_end) {
  switch (p.weight_dtype) {
    case DType::bf16: panels_kernel<Bf16Weight>(p, n_begin, n_end); break;
    case DType::f16: panels_kernel<F16Weight>(p, n_begin, n_end); break;
    default: panels_kernel<F32Weight>(p, n_begin, n_end); break;
  }
}

void gemm_row_lanes_avx512(const GemmProblem& p, int64_t n_begin, int64_t n_end) {
  if (p.m > kRowLanesMaxM) {  // more rows than one pass holds
    gemm_rows_avx512(p, n_begin, n_end);
    return;
  }
  switch (p.weight_dtype) {
    case DType::bf16: row_lanes_dispatch<Bf16Weight>(p, n_begin, n_end); break;
    case DType::f16: row_lanes_dispatch<F16Weight>(p, n_begin, n_end); break;
    default: row_lanes_dispatch<F32Weight>(p, n_begin, n_end); break;
  }
}

#else  // no AVX-512 in this build: gemm() never selects these, but keep them correct if called.

bool avx512_available() { return false; }
void gemm_rows_avx512(const GemmProblem& p, int64_t n_begin, int64_t n_end) { gemm_portable(p, n_begin, n_end); }
void gemm_panels_avx512(const GemmProblem& p, int64_t n_begin, int64_t n_end) { gemm_portable(p, n_begin, n_end); }
void gemm_row_lanes_avx512(const GemmProblem& p, int64_t n_begin, int64_t n_end) { gemm_portable(p, n_begin, n_end); }

#endif

}  // namespace strata::kernels::detail
