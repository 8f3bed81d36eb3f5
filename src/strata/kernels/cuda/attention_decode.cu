// Phase (b) for decode and verify sequences (1..kDecodeMaxTokens new tokens): split-KV attention
// ("flash decoding"). A block takes one (sequence, kv head, chunk of up to 16 query rows, split): the
// rows are the chunk's (token, q head of the group) pairs, the split an equal share of the sequence's
// visible positions, cut on the device from its start position. The grid is fixed by shapes alone, so
// a captured step replays at any position; splits past a sequence's length exit at once. With several
// splits each block leaves an unnormalised row plus its max and sum, and combine_kernel merges them.
#include <cuda_runtime.h>

#include "strata/core/cuda_runtime.h"
#include "strata/kernels/cuda/attention_args.h"
#include "strata/kernels/cuda/attention_device.cuh"
#include "strata/kernels/cuda/launch.cuh"

namespace strata::kernels::cuda {
namespace {

using namespace attention_detail;

constexpr int kThreads = 128;
constexpr int kWarps = kThreads / 32;
constexpr int kKeys = kDecodeKeys;
constexpr int kPage = 256;    // positions whose scores are held at once (a split walks pages)
constexpr int kPageStride = kPage + 1;
constexpr int kRows = kDecodeRows;

// The positions split `split` of a sequence covers: its visible range [lowest(start), start + length)
// cut into num_splits pieces of a whole number of tiles. Decode and combine agree through this.
struct SplitRange {
  int64_t first = 0, end = 0;
  int active = 0;  // splits that hold any position
};
__device__ __forceinline__ SplitRange split_range(const Sequence& s, int64_t window, int num_splits, int split) {
  const int64_t low = lowest_visible(s.start, window), end = s.start + s.length;
  const int64_t per = ceil_div(ceil_div(end - low, num_splits), kKeys) * kKeys;
  SplitRange r;
  r.active = static_cast<int>(ceil_div(end - low, per));
  r.first = low + split * per;
  r.end = r.first + per < end ? r.first + per : end;
  return r;
}

__device__ __forceinline__ bool decode_sequence(const Sequence& s, const DecodePlan& plan) {
  return s.slot >= 0 && s.length >= 1 && s.length <= plan.max_tokens;
}

template <typename KvT, int HD>
struct DecodeLayout {
  static constexpr int q_stride = HD + 4;  // f32
  static constexpr int kv_stride = kTileStride<KvT, HD>;
  static constexpr size_t q_bytes = size_t{kRows} * q_stride * sizeof(float);
  static constexpr size_t tile_bytes = size_t{kKeys} * kv_stride * sizeof(KvT);
  static constexpr size_t score_bytes = (size_t{kRows} * kPageStride * sizeof(float) + 15) / 16 * 16;
  static constexpr size_t stats_bytes = 3 * size_t{kRows} * sizeof(float);
  static constexpr size_t bytes = q_bytes + tile_bytes + score_bytes + stats_bytes;
};

template <typename KvT, int HD>
__global__ void __launch_bounds__(kThreads) decode_kernel(AttentionArgs a, DecodePlan plan) {
  enter_kernel();  // launch.cuh: before any global memory access
  using Layout = DecodeLayout<KvT, HD>;
  constexpr int kV = kVec<KvT>;
  // Scoring: thread owns key tid % 64 of a tile and rows half, half + 2, ... (half = tid / 64).
  constexpr int kScoreRows = kRows / 2;
  // Accumulating: thread owns columns 4 * column4 + 0..3 of rows row_group + kRowGroups * i.
  constexpr int kColumnChunks = HD / 4;
  constexpr int kRowGroups = kThreads / kColumnChunks;
  constexpr int kAccRows = kRows / kRowGroups;
  static_assert(kThreads == 2 * kKeys && kThreads % kColumnChunks == 0 && kRows % kRowGroups == 0);

  extern __shared__ float4 shared_memory[];
  char* base = reinterpret_cast<char*>(shared_memory);
  float* q_tile = reinterpret_cast<float*>(base);
  KvT* kv_tile = reinterpret_cast<KvT*>(base + Layout::q_bytes);
  float* scores = reinterpret_cast<float*>(base + Layout::q_bytes + Layout::tile_bytes);
  float* run_max = reinterpret_cast<float*>(base + Layout::q_bytes + Layout::tile_bytes + Layout::score_bytes);
  float* run_sum = run_max + kRows;
  float* correction = run_sum + kRows;

  const int split = static_cast<int>(blockIdx.x);
  const int kv_head = static_cast<int>(blockIdx.y) / plan.row_chunks;
  const int row0 = static_cast<int>(blockIdx.y) % plan.row_chunks * kRows;
  const int64_t seq = blockIdx.z;
  const Sequence s = read_sequence(a, seq);
  if (!decode_sequence(s, plan)) return;
  const int total_rows = static_cast<int>(s.length) * a.group;
  if (row0 >= total_rows) return;
  const int rows = total_rows - row0 < kRows ? total_rows - row0 : kRows;
  const SplitRange range = split_range(s, a.window, plan.num_splits, split);
  if (split >= range.active) return;

  const int tid = static_cast<int>(threadIdx.x), warp = tid / 32, lane = tid % 32;
  const int hd = a.head_dim, padded = padded_head_dim<KvT>(hd);
  auto token_of = [&](int r) { return (row0 + r) / a.group; };
  auto head_of = [&](int r) { return kv_head * a.group + (row0 + r) % a.group; };

  // Queries, pre-scaled. out may alias q: with one split this block alone reads and writes its rows;
  // with several, only combine_kernel (a later launch) writes them.
  for (int r = warp; r < kRows; r += kWarps) {
    float* dst = q_tile + r * Layout::q_stride;
    const float* src =
        r < rows ? a.q + (s.begin + token_of(r)) * a.q_stride + static_cast<int64_t>(head_of(r)) * hd : nullptr;
    for (int c = lane; c < padded; c += 32) dst[c] = src != nullptr && c < hd ? src[c] * a.scale : 0.0f;
  }
  if (tid < kRows) {
    run_max[tid] = kNegInf;
    run_sum[tid] = 0.0f;
  }

  const int32_t* table = a.block_tables + static_cast<int64_t>(s.slot) * a.table_stride;
  const KvT* k_pool = static_cast<const KvT*>(a.k_pool);
  const KvT* v_pool = static_cast<const KvT*>(a.v_pool);
  const int key = tid % kKeys, half = tid / kKeys;  // half is warp-uniform
  const int column4 = tid % kColumnChunks, row_group = tid / kColumnChunks;
  const bool column_live = 4 * column4 < padded;
  float acc[kAccRows][4];
#pragma unroll
  for (int i = 0; i < kAccRows; ++i)
#pragma unroll
    for (int e = 0; e < 4; ++e) acc[i][e] = 0.0f;

  for (int64_t page = range.first; page < range.end; page += kPage) {
    const int page_count = static_cast<int>(range.end - page < kPage ? range.end - page : kPage);

    // Pass 1: scores of the page, masked per row (causal within the new tokens, sliding window).
    for (int t0 = 0; t0 < page_count; t0 += kKeys) {
      const int count = page_count - t0 < kKeys ? page_count - t0 : kKeys;
      __syncthreads();  // the tile's previous readers are done; the first time, q_tile and stats are set
      start_tile(kv_tile, Layout::kv_stride, k_pool, table, a, kv_head, page + t0, count);
      finish_tile();
      __syncthreads();
      float score[kScoreRows];
#pragma unroll
      for (int i = 0; i < kScoreRows; ++i) score[i] = 0.0f;
      const KvT* key_row = kv_tile + key * Layout::kv_stride;
      for (int d = 0; d < padded; d += kV) {
        float x[kV];
        load_vector(key_row + d, x);
#pragma unroll
        for (int i = 0; i < kScoreRows; ++i) {
          if (half + 2 * i < rows) {
            const float* q = q_tile + (half + 2 * i) * Layout::q_stride + d;
#pragma unroll
            for (int e = 0; e < kV; e += 4) {
              const float4 qv = *reinterpret_cast<const float4*>(q + e);
              score[i] = fmaf(qv.x, x[e], score[i]);
              score[i] = fmaf(qv.y, x[e + 1], score[i]);
              score[i] = fmaf(qv.z, x[e + 2], score[i]);
              score[i] = fmaf(qv.w, x[e + 3], score[i]);
            }
          }
        }
      }
      if (key < count) {
        const int64_t u = page + t0 + key;
#pragma unroll
        for (int i = 0; i < kScoreRows; ++i) {
          const int r = half + 2 * i;
          if (r < rows) {
            const int64_t position = s.start + token_of(r);
            const bool visible = u <= position && u >= lowest_visible(position, a.window);
            scores[r * kPageStride + t0 + key] = visible ? score[i] : kNegInf;
          }
        }
      }
    }
    __syncthreads();  // the page's scores are complete

    // Softmax statistics, one warp per row: scores become exp(score - running max).
    for (int r = warp; r < rows; r += kWarps) {
      float* row = scores + r * kPageStride;
      const float old_max = run_max[r], old_sum = run_sum[r];
      float page_max = kNegInf;
      for (int x = lane; x < page_count; x += 32) page_max = fmaxf(page_max, row[x]);
      page_max = group_max<32>(page_max);
      const float new_max = fmaxf(old_max, page_max);
      const float shift = new_max == kNegInf ? 0.0f : new_max;  // nothing visible to this row yet
      float sum = 0.0f;
      for (int x = lane; x < page_count; x += 32) {
        const float p = expf(row[x] - shift);
        row[x] = p;
        sum += p;
      }
      sum = group_sum<32>(sum);
      __syncwarp();  // every lane has read run_max[r] / run_sum[r]
      if (lane == 0) {
        const float c = expf(old_max - shift);
        correction[r] = c;
        run_sum[r] = old_sum * c + sum;
        run_max[r] = new_max;
      }
    }
    __syncthreads();
#pragma unroll
    for (int i = 0; i < kAccRows; ++i) {
      const int r = row_group + kRowGroups * i;
      if (r < rows) {
        const float c = correction[r];
#pragma unroll
        for (int e = 0; e < 4; ++e) acc[i][e] *= c;
      }
    }

    // Pass 2: acc += p · V over the page.
    for (int t0 = 0; t0 < page_count; t0 += kKeys) {
      const int count = page_count - t0 < kKeys ? page_count - t0 : kKeys;
      __syncthreads();  // the tile's previous readers are done
      start_tile(kv_tile, Layout::kv_stride, v_pool, table, a, kv_head, page + t0, count);
      finish_tile();
      __syncthreads();
      if (column_live) {
#pragma unroll 2
        for (int k = 0; k < count; ++k) {
          const float4 x = load4(kv_tile + k * Layout::kv_stride + 4 * column4);
#pragma unroll
          for (int i = 0; i < kAccRows; ++i) {
            const int r = row_group + kRowGroups * i;
            if (r < rows) {
              const float p = scores[r * kPageStride + t0 + k];
              acc[i][0] = fmaf(p, x.x, acc[i][0]);
              acc[i][1] = fmaf(p, x.y, acc[i][1]);
              acc[i][2] = fmaf(p, x.z, acc[i][2]);
              acc[i][3] = fmaf(p, x.w, acc[i][3]);
            }
          }
        }
      }
    }
  }

  // run_max / run_sum were last written before a __syncthreads() above.
#pragma unroll
  for (int i = 0; i < kAccRows; ++i) {
    const int r = row_group + kRowGroups * i;
    if (r >= rows) continue;
    if (plan.num_splits == 1) {
      // One split saw every visible position, including the row's own: sum >= 1.
      if (!column_live) continue;
      const float inverse = 1.0f / run_sum[r];
      float* o = a.out + (s.begin + token_of(r)) * a.out_stride + static_cast<int64_t>(head_of(r)) * hd;
#pragma unroll
      for (int e = 0; e < 4; ++e)
        if (4 * column4 + e < hd) o[4 * column4 + e] = acc[i][e] * inverse;
    } else {
      const int64_t index =
          ((seq * plan.max_tokens + token_of(r)) * a.n_heads + head_of(r)) * plan.num_splits + split;
      if (column_live) {
        float* o = plan.partial_out + index * hd;
#pragma unroll
        for (int e = 0; e < 4; ++e)
          if (4 * column4 + e < hd) o[4 * column4 + e] = acc[i][e];
      }
      if (column4 == 0) {
        plan.partial_max[index] = run_max[r];  // -inf / 0 when this split holds nothing the row sees
        plan.partial_sum[index] = run_sum[r];
      }
    }
  }
}

constexpr int kCombineThreads = 128;

// out[token, head] = sum_s w_s o_s / sum_s w_s l_s with w_s = exp(m_s - max_s m_s), over the splits
// that saw anything of the row. Grid (q head, token, sequence).
__global__ void __launch_bounds__(kCombineThreads) combine_kernel(AttentionArgs a, DecodePlan plan) {
  enter_kernel();  // launch.cuh: before any global memory access
  __shared__ float weight[kDecodeMaxSplits];
  __shared__ float partial[kCombineThreads / 32];
  __shared__ float block_max, block_sum;
  const int head = static_cast<int>(blockIdx.x), token = static_cast<int>(blockIdx.y);
  const int64_t seq = blockIdx.z;
  const Sequence s = read_sequence(a, seq);
  if (!decode_sequence(s, plan) || token >= s.length) return;
  const int active = split_range(s, a.window, plan.num_splits, 0).active;
  const int64_t index0 = ((seq * plan.max_tokens + token) * a.n_heads + head) * plan.num_splits;
  const int tid = static_cast<int>(threadIdx.x), warp = tid / 32, lane = tid % 32;

  float m = kNegInf;
  for (int x = tid; x < active; x += kCombineThreads)
    if (plan.partial_sum[index0 + x] > 0.0f) m = fmaxf(m, plan.partial_max[index0 + x]);
  m = group_max<32>(m);
  if (lane == 0) partial[warp] = m;
  __syncthreads();
  if (tid == 0) {
    float v = partial[0];
    for (int w = 1; w < kCombineThreads / 32; ++w) v = fmaxf(v, partial[w]);
    block_max = v;  // finite: the split holding the row's own position saw it
  }
  __syncthreads();
  const float top = block_max;
  float sum = 0.0f;
  for (int x = tid; x < active; x += kCombineThreads) {
    const float l = plan.partial_sum[index0 + x];
    const float w = l > 0.0f ? expf(plan.partial_max[index0 + x] - top) : 0.0f;
    weight[x] = w;
    sum += w * l;
  }
  sum = group_sum<32>(sum);
  if (lane == 0) partial[warp] = sum;  // thread 0 finished reading partial[] before the last barrier
  __syncthreads();
  if (tid == 0) {
    float v = 0.0f;
    for (int w = 0; w < kCombineThreads / 32; ++w) v += partial[w];
    block_sum = v;
  }
  __syncthreads();
  const float inverse = 1.0f / block_sum;
  const int hd = a.head_dim;
  const float* rows = plan.partial_out + index0 * hd;
  float* o = a.out + (s.begin + token) * a.out_stride + static_cast<int64_t>(head) * hd;
  for (int d = tid; d < hd; d += kCombineThreads) {
    float v = 0.0f;
    for (int x = 0; x < active; ++x) v = fmaf(weight[x], rows[static_cast<int64_t>(x) * hd + d], v);
    o[d] = v * inverse;
  }
}

template <typename KvT, int HD>
void run_decode(const AttentionArgs& a, const DecodePlan& plan, cudaStream_t stream) {
  using Layout = DecodeLayout<KvT, HD>;
  static std::atomic<uint64_t> configured{0};
  allow_shared_memory(decode_kernel<KvT, HD>, Layout::bytes, configured);
  const dim3 grid(static_cast<unsigned>(plan.num_splits), static_cast<unsigned>(a.n_kv_heads * plan.row_chunks),
                  static_cast<unsigned>(a.num_sequences));
  launch_kernel(decode_kernel<KvT, HD>, grid, kThreads, Layout::bytes, stream, a, plan);
  strata::cuda::check_last_error("paged_attention (decode)");
}

template <typename KvT>
void run_decode_for(const AttentionArgs& a, const DecodePlan& plan, cudaStream_t stream) {
  if (a.head_dim <= 64) run_decode<KvT, 64>(a, plan, stream);
  else if (a.head_dim <= 128) run_decode<KvT, 128>(a, plan, stream);
  else run_decode<KvT, 256>(a, plan, stream);
}

}  // namespace

int64_t decode_scratch_floats(const AttentionArgs& args, const DecodePlan& plan) {
  if (plan.num_splits <= 1) return 0;
  const int64_t rows = int64_t{args.num_sequences} * plan.max_tokens * args.n_heads * plan.num_splits;
  return rows * (args.head_dim + 2);
}

void launch_decode(const AttentionArgs& args, const DecodePlan& plan, void* stream) {
  auto s = static_cast<cudaStream_t>(stream);
  if (args.pool_bf16) run_decode_for<uint16_t>(args, plan, s);
  else run_decode_for<float>(args, plan, s);
  if (plan.num_splits > 1) {
    const dim3 grid(static_cast<unsigned>(args.n_heads), static_cast<unsigned>(plan.max_tokens),
                    static_cast<unsigned>(args.num_sequences));
    launch_kernel(combine_kernel, grid, kCombineThreads, 0, s, args, plan);
    strata::cuda::check_last_error("paged_attention (decode combine)");
  }
}

}  // namespace strata::kernels::cuda
