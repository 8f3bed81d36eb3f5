#include "strata/kernels/cpu/attention.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "strata/core/error.h"
#include "strata/kernels/cpu/activations.h"
#include "strata/kernels/cpu/row_copy.h"
#include "strata/kernels/cpu/varlen_check.h"

namespace strata::kernels::cpu {
namespace {

// KV positions scored together: a tile of keys and values (32 x 128 f32 = 16 KiB each) stays in L1
// while every query row of the work item passes over it.
constexpr int64_t kTile = 32;

struct Geometry {
  int64_t Hq, Hkv, hd, group, block_size, window, table_stride;
  // KV heads one work item covers for short (decode / verify) sequences; 1 for prefill sequences.
  int64_t decode_kv_heads;
  float scale;
};

// Sequences this short attend with several kv heads per work item: their queries are too few to reuse a
// key tile, so the win is reading each position's row of all heads in one sequential sweep.
constexpr int64_t kDecodeTokens = 2;

Geometry geometry_of(const PagedAttentionParams& params, const PagedKv& kv, const VarlenBatch& batch,
                     int threads) {
  Geometry g{};
  g.Hq = params.n_heads;
  g.Hkv = params.n_kv_heads;
  g.hd = params.head_dim;
  g.group = g.Hq / g.Hkv;
  g.block_size = kv.k_pool.size(1);
  g.window = params.sliding_window;
  g.table_stride = kv.block_tables.stride(0);
  g.scale = params.scale != 0.0f ? params.scale : 1.0f / std::sqrt(static_cast<float>(g.hd));
  // As many kv heads per item as the rows allow, split (by halving) until every thread has an item.
  int64_t short_sequences = 0;
  for (int64_t i = 0; i < batch.num_sequences(); ++i)
    short_sequences += batch.length(i) > 0 && batch.length(i) <= kDecodeTokens ? 1 : 0;
  g.decode_kv_heads = g.Hkv;
  while (g.decode_kv_heads > 1 &&
         (g.decode_kv_heads * g.group * kDecodeTokens > kMaxAttentionRows ||
          short_sequences * (g.Hkv / g.decode_kv_heads) < threads) &&
         g.decode_kv_heads % 2 == 0)
    g.decode_kv_heads /= 2;
  if (g.decode_kv_heads * g.group * kDecodeTokens > kMaxAttentionRows) g.decode_kv_heads = 1;
  return g;
}

// How one sequence is cut into work items: kv heads per item, tokens per item, item count.
struct SequenceSplit {
  int64_t n_kv_heads, tokens, items;
};

SequenceSplit split_of(const Geometry& g, int64_t length) {
  SequenceSplit split;
  split.n_kv_heads = length <= kDecodeTokens ? g.decode_kv_heads : 1;
  split.tokens = std::max<int64_t>(1, kMaxAttentionRows / (split.n_kv_heads * g.group));
  split.items = (g.Hkv / split.n_kv_heads) * ((length + split.tokens - 1) / split.tokens);
  return split;
}

// ---- vector primitives over f32 or bf16 rows (AVX-512 with masked tails; scalar fallback) ----------

#if defined(__AVX512F__)
inline __mmask16 lanes(int64_t remaining) {
  return remaining >= 16 ? __mmask16(0xffff) : static_cast<__mmask16>((1u << remaining) - 1u);
}
inline __m512 load_masked(const float* p, __mmask16 m) { return _mm512_maskz_loadu_ps(m, p); }
inline __m512 load_masked(const uint16_t* p, __mmask16 m) {
#if defined(__AVX512BW__) && defined(__AVX512VL__)
  const __m256i bits = _mm256_maskz_loadu_epi16(m, p);
#else
  alignas(32) uint16_t tmp[16] = {};
  for (int i = 0; i < 16; ++i)
    if ((m >> i) & 1) tmp[i] = p[i];
  const __m256i bits = _mm256_load_si256(reinterpret_cast<const __m256i*>(tmp));
#endif
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(bits), 16));
}

// The four horizontal sums of v0..v3 as one __m128 {sum v0, sum v1, sum v2, sum v3}.
inline __m128 hsum4_ps(__m512 v0, __m512 v1, __m512 v2, __m512 v3) {
  const __m512 t0 = _mm512_add_ps(_mm512_unpacklo_ps(v0, v1), _mm512_unpackhi_ps(v0, v1));
  const __m512 t1 = _mm512_add_ps(_mm512_unpacklo_ps(v2, v3), _mm512_unpackhi_ps(v2, v3));
  const __m512 u = _mm512_add_ps(_mm512_shuffle_ps(t0, t1, 0x44), _mm512_shuffle_ps(t0, t1, 0xEE));
  const __m512 w = _mm512_add_ps(u, _mm512_shuffle_f32x4(u, u, _MM_SHUFFLE(1, 0, 3, 2)));
  return _mm_add_ps(_mm512_castps512_ps128(w), _mm512_extractf32x4_ps(w, 1));
}
#endif

// Query heads of one token share their visible keys, so up to kRowsTogether rows are scored and
// accumulated together: each key or value chunk is loaded (and widened from bf16) once for all of them.
constexpr int kRowsTogether = 4;

// scores[r][u] = q[r] · keys[u * stride] for r < R, u < n. Four keys per pass, their sums reduced together.
template <int R, typename KvT>
inline void score_keys(const float* const* q, const KvT* keys, int64_t stride, int64_t n, int64_t hd,
                       float (*scores)[kTile]) {
  int64_t u = 0;
#if defined(__AVX512F__)
  for (; u + 4 <= n; u += 4) {
    const KvT* k0 = keys + u * stride;
    const KvT *k1 = k0 + stride, *k2 = k1 + stride, *k3 = k2 + stride;
    __m512 acc[R][4];
    for (int r = 0; r < R; ++r)
      for (int i = 0; i < 4; ++i) acc[r][i] = _mm512_setzero_ps();
    for (int64_t d = 0; d < hd; d += 16) {
      const __mmask16 m = lanes(hd - d);
      const __m512 x0 = load_masked(k0 + d, m), x1 = load_masked(k1 + d, m), x2 = load_masked(k2 + d, m),
                   x3 = load_masked(k3 + d, m);
      for (int r = 0; r < R; ++r) {
        const __m512 x = _mm512_maskz_loadu_ps(m, q[r] + d);
        acc[r][0] = _mm512_fmadd_ps(x, x0, acc[r][0]);
        acc[r][1] = _mm512_fmadd_ps(x, x1, acc[r][1]);
        acc[r][2] = _mm512_fmadd_ps(x, x2, acc[r][2]);
        acc[r][3] = _mm512_fmadd_ps(x, x3, acc[r][3]);
      }
    }
    for (int r = 0; r < R; ++r) _mm_storeu_ps(scores[r] + u, hsum4_ps(acc[r][0], acc[r][1], acc[r][2], acc[r][3]));
  }
  for (; u < n; ++u) {
    const KvT* k = keys + u * stride;
    __m512 acc[R];
    for (int r = 0; r < R; ++r) acc[r] = _mm512_setzero_ps();
    for (int64_t d = 0; d < hd; d += 16) {
      const __mmask16 m = lanes(hd - d);
      const __m512 x = load_masked(k + d, m);
      for (int r = 0; r < R; ++r) acc[r] = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, q[r] + d), x, acc[r]);
    }
    for (int r = 0; r < R; ++r) scores[r][u] = hsum_ps(acc[r]);
  }
#endif
  for (; u < n; ++u)
    for (int r = 0; r < R; ++r) {
      float sum = 0.0f;
      for (int64_t d = 0; d < hd; ++d) sum = std::fma(q[r][d], load_x1(keys + u * stride + d), sum);
      scores[r][u] = sum;
    }
}

// p[u] = exp(p[u] - max) in place; returns the sum.
inline float exp_shifted(float* p, int64_t n, float max) {
  int64_t u = 0;
  float sum = 0.0f;
#if defined(__AVX512F__)
  const __m512 vmax = _mm512_set1_ps(max);
  __m512 vsum = _mm512_setzero_ps();
  for (; u < n; u += 16) {
    const __mmask16 m = lanes(n - u);
    const __m512 e = exp_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, p + u), vmax));
    _mm512_mask_storeu_ps(p + u, m, e);
    vsum = _mm512_add_ps(vsum, _mm512_maskz_mov_ps(m, e));
  }
  sum = hsum_ps(vsum);
#endif
  for (; u < n; ++u) {
    p[u] = std::exp(p[u] - max);
    sum += p[u];
  }
  return sum;
}

// acc[r] = acc[r] * correction[r] + sum_u p[r][u] * v_u for r < R, v_u = values + u * value_stride.
template <int R, typename KvT>
inline void accumulate_values(float* const* acc, const float* correction, const float (*p)[kTile],
                              const KvT* values, int64_t value_stride, int64_t n, int64_t hd) {
  int64_t d = 0;
#if defined(__AVX512F__)
  // 64 columns x R rows of accumulators (<= 16 registers) stay in registers along the u loop.
  for (; d < hd; d += 64) {
    const int chunks = static_cast<int>(std::min<int64_t>(4, (hd - d + 15) / 16));
    __mmask16 m[4];
    for (int i = 0; i < 4; ++i) m[i] = i < chunks ? lanes(hd - d - 16 * i) : __mmask16(0);
    __m512 a[R][4];
    for (int r = 0; r < R; ++r) {
      const __m512 corr = _mm512_set1_ps(correction[r]);
      for (int i = 0; i < 4; ++i) a[r][i] = _mm512_mul_ps(_mm512_maskz_loadu_ps(m[i], acc[r] + d + 16 * i), corr);
    }
    for (int64_t u = 0; u < n; ++u) {
      const KvT* v = values + u * value_stride + d;
      const __m512 v0 = load_masked(v, m[0]), v1 = load_masked(v + 16, m[1]), v2 = load_masked(v + 32, m[2]),
                   v3 = load_masked(v + 48, m[3]);
      for (int r = 0; r < R; ++r) {
        const __m512 w = _mm512_set1_ps(p[r][u]);
        a[r][0] = _mm512_fmadd_ps(w, v0, a[r][0]);
        a[r][1] = _mm512_fmadd_ps(w, v1, a[r][1]);
        a[r][2] = _mm512_fmadd_ps(w, v2, a[r][2]);
        a[r][3] = _mm512_fmadd_ps(w, v3, a[r][3]);
      }
    }
    for (int r = 0; r < R; ++r)
      for (int i = 0; i < 4; ++i) _mm512_mask_storeu_ps(acc[r] + d + 16 * i, m[i], a[r][i]);
  }
#endif
  for (; d < hd; ++d)
    for (int r = 0; r < R; ++r) {
      float a = acc[r][d] * correction[r];
      for (int64_t u = 0; u < n; ++u) a = std::fma(p[r][u], load_x1(values + u * value_stride + d), a);
      acc[r][d] = a;
    }
}

// ---- (a) store the new tokens' keys and values ---------------------------------------------------

template <typename KvT>
void store_new_tokens(const Geometry& g, const VarlenBatch& batch, std::span<const int64_t> starts,
                      const PagedAttentionInputs& in, const PagedKv& kv, ThreadPool& pool) {
  const int64_t width = g.Hkv * g.hd;
  const int32_t* tables = kv.block_tables.ptr<int32_t>();
  pool.parallel_for(batch.num_tokens(), [&](int64_t t0, int64_t t1) {
    // The sequence holding token t0 (upper_bound skips empty sequences).
    auto seq = static_cast<int64_t>(std::upper_bound(batch.cu_seqlens.begin(), batch.cu_seqlens.end(), t0) -
                                    batch.cu_seqlens.begin()) - 1;
    for (int64_t t = t0; t < t1; ++t) {
      while (t >= batch.begin(seq + 1)) ++seq;
      const int32_t slot = batch.slots[static_cast<size_t>(seq)];
      if (slot < 0) continue;
      const int64_t position = starts[static_cast<size_t>(seq)] + (t - batch.begin(seq));
      const int64_t block = tables[slot * g.table_stride + position / g.block_size];
      const int64_t row = (block * g.block_size + position % g.block_size) * width;
      store_row(kv.k_pool.ptr<KvT>() + row, in.k.ptr<float>() + t * in.k.stride(0), width);
      store_row(kv.v_pool.ptr<KvT>() + row, in.v.ptr<float>() + t * in.v.stride(0), width);
    }
  });
}

// ---- (b) attend ------------------------------------------------------------------------------------

struct alignas(64) ItemScratch {
  float query[kMaxAttentionRows][kMaxAttentionHeadDim];  // pre-scaled
  float acc[kMaxAttentionRows][kMaxAttentionHeadDim];
  float scores[kRowsTogether][kTile];
  float max[kMaxAttentionRows], sum[kMaxAttentionRows];
};

// Rows [row0, row0 + R) (q heads of one token) over `count` keys/values they all see: online softmax step.
template <int R, typename KvT>
inline void attend_rows(ItemScratch& s, int64_t row0, const KvT* keys, const KvT* values, int64_t stride,
                        int64_t count, int64_t hd) {
  const float* q[R];
  float* acc[R];
  float correction[R];
  for (int r = 0; r < R; ++r) {
    q[r] = s.query[row0 + r];
    acc[r] = s.acc[row0 + r];
  }
  score_keys<R>(q, keys, stride, count, hd, s.scores);
  for (int r = 0; r < R; ++r) {
    float tile_max = -std::numeric_limits<float>::infinity();
    for (int64_t u = 0; u < count; ++u) tile_max = std::max(tile_max, s.scores[r][u]);
    const int64_t row = row0 + r;
    const float new_max = std::max(s.max[row], tile_max);
    correction[r] = std::exp(s.max[row] - new_max);  // 0 on the row's first tile
    s.sum[row] = s.sum[row] * correction[r] + exp_shifted(s.scores[r], count, new_max);
    s.max[row] = new_max;
  }
  accumulate_values<R>(acc, correction, s.scores, values, stride, count, hd);
}

// One work item: tokens [j0, j1) of sequence `seq` against kv heads [kv0, kv0 + kv_heads), all q heads
// of their groups. Row r is token j0 + r / heads_per_token, q head kv0*group + r % heads_per_token.
template <typename KvT>
void attend_item(const Geometry& g, const VarlenBatch& batch, std::span<const int64_t> starts,
                 const PagedAttentionInputs& in, const PagedKv& kv, const Tensor& out, int64_t seq,
                 int64_t kv0, int64_t kv_heads, int64_t j0, int64_t j1, ItemScratch& s) {
  const int64_t begin = batch.begin(seq), start = starts[static_cast<size_t>(seq)];
  const int32_t slot = batch.slots[static_cast<size_t>(seq)];
  const int64_t heads_per_token = kv_heads * g.group, rows = (j1 - j0) * heads_per_token, hd = g.hd;
  auto head_of = [&](int64_t row) { return kv0 * g.group + row % heads_per_token; };
  auto out_row = [&](int64_t row) {
    return out.ptr<float>() + (begin + j0 + row / heads_per_token) * out.stride(0) + head_of(row) * hd;
  };
  if (slot < 0) {
    for (int64_t row = 0; row < rows; ++row) std::fill_n(out_row(row), hd, 0.0f);
    return;
  }
  for (int64_t row = 0; row < rows; ++row) {
    const float* q = in.q.ptr<float>() + (begin + j0 + row / heads_per_token) * in.q.stride(0) + head_of(row) * hd;
    for (int64_t d = 0; d < hd; ++d) s.query[row][d] = q[d] * g.scale;
    std::fill_n(s.acc[row], hd, 0.0f);
    s.max[row] = -std::numeric_limits<float>::infinity();
    s.sum[row] = 0.0f;
  }
  // A token at position p sees [lowest(p), p].
  auto lowest = [&](int64_t position) { return g.window > 0 ? std::max<int64_t>(0, position - g.window + 1) : 0; };
  const int64_t first = lowest(start + j0), last = start + j1 - 1;
  const int32_t* table = kv.block_tables.ptr<int32_t>() + slot * g.table_stride;
  const int64_t stride = g.Hkv * hd;  // between consecutive positions of one block
  // Tiles are aligned to absolute positions and never cross a block, so chunked and whole prefill group
  // the same keys together.
  auto tile_end = [&](int64_t u) { return std::min({last + 1, (u / kTile + 1) * kTile, (u / g.block_size + 1) * g.block_size}); };
  auto tile_offset = [&](int64_t u) {
    return (table[u / g.block_size] * g.block_size + u % g.block_size) * stride + kv0 * hd;
  };

  for (int64_t u0 = first; u0 <= last;) {
    const int64_t u1 = tile_end(u0), offset = tile_offset(u0);
#if defined(__AVX512F__)
    // Rows of one position are Hkv*hd elements apart, too far for the hardware prefetcher to follow
    // when an item reads only some heads: request the next tile while this one is scored.
    if (u1 <= last) {
      const int64_t next_offset = tile_offset(u1), next_count = tile_end(u1) - u1;
      const int64_t row_bytes = kv_heads * hd * static_cast<int64_t>(sizeof(KvT));
      for (int64_t u = 0; u < next_count; ++u)
        for (int64_t byte = 0; byte < row_bytes; byte += 64) {
          _mm_prefetch(reinterpret_cast<const char*>(kv.k_pool.ptr<KvT>() + next_offset + u * stride) + byte, _MM_HINT_T0);
          _mm_prefetch(reinterpret_cast<const char*>(kv.v_pool.ptr<KvT>() + next_offset + u * stride) + byte, _MM_HINT_T0);
        }
    }
#endif
    for (int64_t kh = 0; kh < kv_heads; ++kh) {
      // Keys and values are read in the pool dtype and widened in registers (bf16 -> f32 is a shift).
      const KvT* keys = kv.k_pool.ptr<KvT>() + offset + kh * hd;
      const KvT* values = kv.v_pool.ptr<KvT>() + offset + kh * hd;
      for (int64_t j = j0; j < j1; ++j) {
        // The token's visible positions in this tile form one interval (causal + window is an interval).
        const int64_t position = start + j;
        const int64_t a = std::max(u0, lowest(position)), b = std::min(u1 - 1, position);
        if (a > b) continue;
        const KvT* k = keys + (a - u0) * stride;
        const KvT* v = values + (a - u0) * stride;
        const int64_t count = b - a + 1;
        for (int64_t h = 0; h < g.group; h += kRowsTogether) {
          const int64_t row0 = (j - j0) * heads_per_token + kh * g.group + h;
          switch (std::min<int64_t>(kRowsTogether, g.group - h)) {
            case 1: attend_rows<1>(s, row0, k, v, stride, count, hd); break;
            case 2: attend_rows<2>(s, row0, k, v, stride, count, hd); break;
            case 3: attend_rows<3>(s, row0, k, v, stride, count, hd); break;
            default: attend_rows<4>(s, row0, k, v, stride, count, hd); break;
          }
        }
      }
    }
    u0 = u1;
  }
  for (int64_t row = 0; row < rows; ++row) {
    // Every row sees at least its own position, so sum >= 1.
    const float inverse = 1.0f / s.sum[row];
    float* o = out_row(row);
    for (int64_t d = 0; d < hd; ++d) o[d] = s.acc[row][d] * inverse;
  }
}

template <typename KvT>
void attend(const Geometry& g, const VarlenBatch& batch, std::span<const int64_t> starts,
            const PagedAttentionInputs& in, const PagedKv& kv, const Tensor& out, ThreadPool& pool) {
  // Items of a sequence are kv-head-group major, so one thread walks the query blocks of one kv head
  // group in order and finds its keys in cache.
  int64_t total = 0;
  for (int64_t i = 0; i < batch.num_sequences(); ++i) total += split_of(g, batch.length(i)).items;
  pool.parallel_for(total, [&](int64_t item_begin, int64_t item_end) {
    ItemScratch scratch;
    int64_t seq = 0, first_item = 0;
    SequenceSplit split = split_of(g, batch.length(0));
    for (int64_t item = item_begin; item < item_end; ++item) {
      while (item >= first_item + split.items) {
        first_item += split.items;
        split = split_of(g, batch.length(++seq));
      }
      const int64_t local = item - first_item;
      const int64_t query_blocks = (batch.length(seq) + split.tokens - 1) / split.tokens;
      const int64_t kv0 = (local / query_blocks) * split.n_kv_heads, query_block = local % query_blocks;
      const int64_t j0 = query_block * split.tokens, j1 = std::min(batch.length(seq), j0 + split.tokens);
      attend_item<KvT>(g, batch, starts, in, kv, out, seq, kv0, split.n_kv_heads, j0, j1, scratch);
    }
  });
}

// ---- validation -------------------------------------------------------------------------------------

void check_rows(const char* name, const Tensor& t, int64_t num_tokens, int64_t width) {
  if (t.dtype != DType::f32 || t.ndim != 2)
    fail("paged_attention: {} is {}, expected f32[{}, {}]", name, t.describe(), num_tokens, width);
  if (t.size(0) != num_tokens || t.size(1) != width)
    fail("paged_attention: {} is {}, expected f32[{}, {}] (tokens x heads*head_dim)", name, t.describe(),
         num_tokens, width);
  if (num_tokens > 0 && t.data == nullptr) fail("paged_attention: {} has no data", name);
  if (t.stride(1) != 1 || (num_tokens > 1 && t.stride(0) < width))
    fail("paged_attention: {} must have unit column stride and row stride >= {} (got strides {}, {})", name,
         width, t.stride(0), t.stride(1));
}

void check_pool(const char* name, const Tensor& t, const PagedAttentionParams& p, DType dtype,
                int64_t num_blocks, int64_t block_size) {
  if (t.ndim != 4 || t.size(2) != p.n_kv_heads || t.size(3) != p.head_dim || t.size(0) != num_blocks ||
      t.size(1) != block_size || t.dtype != dtype)
    fail("paged_attention: {} is {}, expected {}[num_blocks, block_size, {}, {}] like k_pool", name,
         t.describe(), dtype_name(dtype), p.n_kv_heads, p.head_dim);
  if (!t.is_contiguous() || t.data == nullptr) fail("paged_attention: {} must be a contiguous pool", name);
}

}  // namespace

}  // namespace strata::kernels::cpu

// Operand checks are device-neutral: one definition, declared in the neutral header. It shares this
// file's helpers.
namespace strata::kernels {

using namespace cpu;

void check_paged_attention(const PagedAttentionParams& params, const VarlenBatch& batch,
                           std::span<const int64_t> start_positions, const PagedAttentionInputs& inputs,
                           const PagedKv& kv, const Tensor& out) {
  const PagedAttentionParams& p = params;
  if (p.n_heads <= 0 || p.n_kv_heads <= 0 || p.n_heads % p.n_kv_heads != 0)
    fail("paged_attention: num_q_heads {} must be a positive multiple of num_kv_heads {}", p.n_heads,
         p.n_kv_heads);
  if (p.n_heads / p.n_kv_heads > kMaxAttentionRows)
    fail("paged_attention: {} q heads per kv head exceed the supported {}", p.n_heads / p.n_kv_heads,
         kMaxAttentionRows);
  if (p.head_dim <= 0 || p.head_dim > kMaxAttentionHeadDim)
    fail("paged_attention: head_dim {} outside [1, {}]", p.head_dim, kMaxAttentionHeadDim);
  if (p.sliding_window < 0) fail("paged_attention: sliding_window {} must be >= 0 (0 = unlimited)", p.sliding_window);
  if (!std::isfinite(p.scale)) fail("paged_attention: scale {} is not finite", p.scale);

  if (kv.k_pool.ndim != 4 || (kv.k_pool.dtype != DType::f32 && kv.k_pool.dtype != DType::bf16))
    fail("paged_attention: k_pool is {}, expected f32 or bf16 [num_blocks, block_size, {}, {}]",
         kv.k_pool.describe(), p.n_kv_heads, p.head_dim);
  const int64_t num_blocks = kv.k_pool.size(0), block_size = kv.k_pool.size(1);
  if (block_size <= 0) fail("paged_attention: k_pool has block_size {}, expected > 0", block_size);
  check_pool("k_pool", kv.k_pool, p, kv.k_pool.dtype, num_blocks, block_size);
  check_pool("v_pool", kv.v_pool, p, kv.k_pool.dtype, num_blocks, block_size);
  const Tensor& tables = kv.block_tables;
  if (tables.dtype != DType::i32 || tables.ndim != 2 || tables.stride(1) != 1 || tables.data == nullptr ||
      tables.stride(0) < tables.size(1))
    fail("paged_attention: block_tables is {}, expected i32[num_slots, max_blocks_per_slot] with unit "
         "column stride", tables.describe());

  const int64_t T = batch.num_tokens();
  check_varlen_batch("paged_attention", batch, T, tables.size(0), /*allow_padding_slots=*/true);
  check_rows("q", inputs.q, T, p.n_heads * p.head_dim);
  check_rows("k", inputs.k, T, p.n_kv_heads * p.head_dim);
  check_rows("v", inputs.v, T, p.n_kv_heads * p.head_dim);
  check_rows("out", out, T, p.n_heads * p.head_dim);

  if (start_positions.size() != batch.slots.size())
    fail("paged_attention: {} start positions for {} sequences, expected one per sequence",
         start_positions.size(), batch.slots.size());
  for (size_t i = 0; i < batch.slots.size(); ++i) {
    const int64_t start = start_positions[i];
    if (start < 0) fail("paged_attention: sequence {} has start position {}, expected >= 0", i, start);
    const int32_t slot = batch.slots[i];
    if (slot < 0 || batch.length(static_cast<int64_t>(i)) == 0) continue;
    const int64_t end = start + batch.length(static_cast<int64_t>(i));
    const int64_t blocks = (end + block_size - 1) / block_size;
    if (blocks > tables.size(1))
      fail("paged_attention: sequence {} reaches position {} but block tables hold at most {} positions",
           i, end, tables.size(1) * block_size);
    // Only the blocks this step reads (the window's) and writes must be present. A device table
    // cannot be read here: the CUDA path trusts the cache to have reserved them.
    if (tables.device != Device::cpu) continue;
    const int64_t first_read =
        p.sliding_window > 0 ? std::max<int64_t>(0, start - p.sliding_window + 1) : 0;
    const int32_t* row = tables.ptr<int32_t>() + slot * tables.stride(0);
    for (int64_t b = first_read / block_size; b < blocks; ++b)
      if (row[b] < 0 || row[b] >= num_blocks)
        fail("paged_attention: slot {} block table entry {} is {}, expected a block id in [0, {}) "
             "(reserve the cache before the step)", slot, b, row[b], num_blocks);
  }
}

}  // namespace strata::kernels

namespace strata::kernels::cpu {

void paged_attention(const PagedAttentionParams& params, const VarlenBatch& batch,
                     std::span<const int64_t> start_positions, const PagedAttentionInputs& inputs,
                     const PagedKv& kv, const Tensor& out, ThreadPool& pool) {
  if (batch.num_tokens() == 0) return;
  const Geometry g = geometry_of(params, kv, batch, pool.size());
  if (kv.k_pool.dtype == DType::bf16) {
    store_new_tokens<uint16_t>(g, batch, start_positions, inputs, kv, pool);
    attend<uint16_t>(g, batch, start_positions, inputs, kv, out, pool);
  } else {
    store_new_tokens<float>(g, batch, start_positions, inputs, kv, pool);
    attend<float>(g, batch, start_positions, inputs, kv, out, pool);
  }
}

}  // namespace strata::kernels::cpu
