// Phase (b) for prefill sequences (more than kDecodeMaxTokens new tokens, chunked prefill included):
// flash attention in f32. A block takes 64 query tokens of one q head and walks the visible positions
// in tiles of 32 keys (K and V staged in shared memory), keeping a running max and sum per row, so no
// score matrix is ever materialised. Grid (q head, query tile, sequence); 256 threads.
#include <cuda_runtime.h>

#include "strata/core/cuda_runtime.h"
#include "strata/kernels/cuda/attention_args.h"
#include "strata/kernels/cuda/attention_device.cuh"
#include "strata/kernels/cuda/launch.cuh"

namespace strata::kernels::cuda {
namespace {

using namespace attention_detail;

constexpr int kQueries = kPrefillQueries;
constexpr int kKeys = 32;     // positions per K/V tile
constexpr int kThreads = 256;
// Probability rows: 40 floats apart, so the 4 rows a warp touches sit 8 banks apart (no conflicts).
constexpr int kProbabilityStride = kKeys + 8;

// Thread (ty, tx) = (tid / 8, tid % 8) owns query rows ty and ty + 32: their scores against keys
// tx, tx + 8, tx + 16, tx + 24 of a tile, and their output columns 4 * (tx + 8 * c) + 0..3.
template <typename KvT, int HD>
struct PrefillLayout {
  static constexpr int q_stride = HD + 4;  // f32
  static constexpr int kv_stride = kTileStride<KvT, HD>;
  static constexpr size_t q_bytes = size_t{kQueries} * q_stride * sizeof(float);
  static constexpr size_t kv_bytes = size_t{kKeys} * kv_stride * sizeof(KvT);  // a multiple of 16
  static constexpr size_t p_bytes = size_t{kQueries} * kProbabilityStride * sizeof(float);
  static constexpr size_t bytes = q_bytes + 2 * kv_bytes + p_bytes;
};

template <typename KvT, int HD>
__global__ void __launch_bounds__(kThreads) prefill_kernel(AttentionArgs a) {
  enter_kernel();  // launch.cuh: before any global memory access
  using Layout = PrefillLayout<KvT, HD>;
  constexpr int kV = kVec<KvT>;
  constexpr int kChunks = HD / 32;  // output column chunks of 4 per thread
  extern __shared__ float4 shared_memory[];
  char* base = reinterpret_cast<char*>(shared_memory);
  float* q_tile = reinterpret_cast<float*>(base);
  KvT* k_tile = reinterpret_cast<KvT*>(base + Layout::q_bytes);
  KvT* v_tile = reinterpret_cast<KvT*>(base + Layout::q_bytes + Layout::kv_bytes);
  float* p_tile = reinterpret_cast<float*>(base + Layout::q_bytes + 2 * Layout::kv_bytes);

  const int head = static_cast<int>(blockIdx.x);
  const Sequence s = read_sequence(a, blockIdx.z);
  if (s.slot < 0 || s.length <= kDecodeMaxTokens) return;  // padding, or the decode kernel's
  // Later query tiles see more keys: they get the lower block indices, so they start first.
  const int64_t j0 = (static_cast<int64_t>(gridDim.y) - 1 - blockIdx.y) * kQueries;
  if (j0 >= s.length) return;
  const int rows = static_cast<int>(s.length - j0 < kQueries ? s.length - j0 : kQueries);
  const int tid = static_cast<int>(threadIdx.x), warp = tid / 32, lane = tid % 32;
  const int hd = a.head_dim, padded = padded_head_dim<KvT>(hd);

  // Queries, pre-scaled like the CPU; padding rows and columns are zero. out may alias q: this block
  // writes only the rows and head it reads here, after reading them.
  for (int r = warp; r < kQueries; r += kThreads / 32) {
    float* dst = q_tile + r * Layout::q_stride;
    const float* src = r < rows ? a.q + (s.begin + j0 + r) * a.q_stride + static_cast<int64_t>(head) * hd : nullptr;
    for (int c = lane; c < padded; c += 32) dst[c] = src != nullptr && c < hd ? src[c] * a.scale : 0.0f;
  }

  const int kv_head = head / a.group;
  const int32_t* table = a.block_tables + static_cast<int64_t>(s.slot) * a.table_stride;
  const KvT* k_pool = static_cast<const KvT*>(a.k_pool);
  const KvT* v_pool = static_cast<const KvT*>(a.v_pool);
  const int ty = tid / 8, tx = tid % 8;

  float acc[2][kChunks][4];
#pragma unroll
  for (int i = 0; i < 2; ++i)
#pragma unroll
    for (int c = 0; c < kChunks; ++c)
#pragma unroll
      for (int e = 0; e < 4; ++e) acc[i][c][e] = 0.0f;
  float row_max[2] = {kNegInf, kNegInf}, row_sum[2] = {0.0f, 0.0f};
  int64_t position[2], low[2];
  bool live[2];
#pragma unroll
  for (int i = 0; i < 2; ++i) {
    live[i] = ty + 32 * i < rows;
    position[i] = s.start + j0 + ty + 32 * i;
    low[i] = lowest_visible(position[i], a.window);
  }

  const int64_t last = s.start + j0 + rows - 1;  // the tile's last query position
  for (int64_t u0 = lowest_visible(s.start + j0, a.window); u0 <= last; u0 += kKeys) {
    const int count = static_cast<int>(last - u0 + 1 < kKeys ? last - u0 + 1 : kKeys);
    __syncthreads();  // the previous tile is consumed; the first time, q_tile is complete
    start_tile(k_tile, Layout::kv_stride, k_pool, table, a, kv_head, u0, count);
    start_tile(v_tile, Layout::kv_stride, v_pool, table, a, kv_head, u0, count);
    finish_tile();
    __syncthreads();

    // Scores: 2 rows x 4 keys per thread, reading 16-byte vectors of q and k.
    float score[2][4] = {{0.0f, 0.0f, 0.0f, 0.0f}, {0.0f, 0.0f, 0.0f, 0.0f}};
    const float* q0 = q_tile + ty * Layout::q_stride;
    const float* q1 = q0 + 32 * Layout::q_stride;
    for (int d = 0; d < padded; d += kV) {
      float key[4][kV];
#pragma unroll
      for (int c = 0; c < 4; ++c) load_vector(k_tile + (tx + 8 * c) * Layout::kv_stride + d, key[c]);
#pragma unroll
      for (int e = 0; e < kV; e += 4) {
        const float4 x0 = *reinterpret_cast<const float4*>(q0 + d + e);
        const float4 x1 = *reinterpret_cast<const float4*>(q1 + d + e);
#pragma unroll
        for (int c = 0; c < 4; ++c) {
          score[0][c] = fmaf(x0.x, key[c][e], score[0][c]);
          score[0][c] = fmaf(x0.y, key[c][e + 1], score[0][c]);
          score[0][c] = fmaf(x0.z, key[c][e + 2], score[0][c]);
          score[0][c] = fmaf(x0.w, key[c][e + 3], score[0][c]);
          score[1][c] = fmaf(x1.x, key[c][e], score[1][c]);
          score[1][c] = fmaf(x1.y, key[c][e + 1], score[1][c]);
          score[1][c] = fmaf(x1.z, key[c][e + 2], score[1][c]);
          score[1][c] = fmaf(x1.w, key[c][e + 3], score[1][c]);
        }
      }
    }

    // Online softmax: the 8 lanes of a row (consecutive lanes) agree on its max and sum.
#pragma unroll
    for (int i = 0; i < 2; ++i) {
      float tile_max = kNegInf;
#pragma unroll
      for (int c = 0; c < 4; ++c) {
        const int k = tx + 8 * c;
        const int64_t u = u0 + k;
        if (!(live[i] && k < count && u <= position[i] && u >= low[i])) score[i][c] = kNegInf;
        tile_max = fmaxf(tile_max, score[i][c]);
      }
      tile_max = group_max<8>(tile_max);
      const float new_max = fmaxf(row_max[i], tile_max);
      const float shift = new_max == kNegInf ? 0.0f : new_max;  // a row with nothing visible yet
      const float correction = expf(row_max[i] - shift);      // 0 before the row's first key
      float sum = 0.0f;
#pragma unroll
      for (int c = 0; c < 4; ++c) {
        const float p = expf(score[i][c] - shift);
        p_tile[(ty + 32 * i) * kProbabilityStride + tx + 8 * c] = p;
        sum += p;
      }
      sum = group_sum<8>(sum);
      row_sum[i] = row_sum[i] * correction + sum;
      row_max[i] = new_max;
#pragma unroll
      for (int c = 0; c < kChunks; ++c)
#pragma unroll
        for (int e = 0; e < 4; ++e) acc[i][c][e] *= correction;
    }
    __syncthreads();  // p_tile complete

    const float* p0 = p_tile + ty * kProbabilityStride;
    const float* p1 = p0 + 32 * kProbabilityStride;
#pragma unroll 2
    for (int k = 0; k < count; ++k) {
      const float w0 = p0[k], w1 = p1[k];
      const KvT* value = v_tile + k * Layout::kv_stride;
#pragma unroll
      for (int c = 0; c < kChunks; ++c) {
        const int column = 4 * (tx + 8 * c);
        if (column < padded) {
          const float4 x = load4(value + column);
          acc[0][c][0] = fmaf(w0, x.x, acc[0][c][0]);
          acc[0][c][1] = fmaf(w0, x.y, acc[0][c][1]);
          acc[0][c][2] = fmaf(w0, x.z, acc[0][c][2]);
          acc[0][c][3] = fmaf(w0, x.w, acc[0][c][3]);
          acc[1][c][0] = fmaf(w1, x.x, acc[1][c][0]);
          acc[1][c][1] = fmaf(w1, x.y, acc[1][c][1]);
          acc[1][c][2] = fmaf(w1, x.z, acc[1][c][2]);
          acc[1][c][3] = fmaf(w1, x.w, acc[1][c][3]);
        }
      }
    }
  }

  // Every live row saw at least its own position, so its sum is >= 1.
#pragma unroll
  for (int i = 0; i < 2; ++i) {
    if (!live[i]) continue;
    const float inverse = 1.0f / row_sum[i];
    float* o = a.out + (s.begin + j0 + ty + 32 * i) * a.out_stride + static_cast<int64_t>(head) * hd;
#pragma unroll
    for (int c = 0; c < kChunks; ++c)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int column = 4 * (tx + 8 * c) + e;
        if (column < hd) o[column] = acc[i][c][e] * inverse;
      }
  }
}

template <typename KvT, int HD>
void run_prefill(const AttentionArgs& a, int64_t longest, cudaStream_t stream) {
  using Layout = PrefillLayout<KvT, HD>;
  const int64_t tiles = ceil_div(longest, kQueries);  // <= 65535, checked by the caller
  static std::atomic<uint64_t> configured{0};
  allow_shared_memory(prefill_kernel<KvT, HD>, Layout::bytes, configured);
  const dim3 grid(static_cast<unsigned>(a.n_heads), static_cast<unsigned>(tiles), static_cast<unsigned>(a.num_sequences));
  launch_kernel(prefill_kernel<KvT, HD>, grid, kThreads, Layout::bytes, stream, a);
  strata::cuda::check_last_error("paged_attention (prefill)");
}

template <typename KvT>
void run_prefill_for(const AttentionArgs& a, int64_t longest, cudaStream_t stream) {
  if (a.head_dim <= 64) run_prefill<KvT, 64>(a, longest, stream);
  else if (a.head_dim <= 128) run_prefill<KvT, 128>(a, longest, stream);
  else run_prefill<KvT, 256>(a, longest, stream);
}

}  // namespace

void launch_prefill(const AttentionArgs& args, int64_t longest, void* stream) {
  auto s = static_cast<cudaStream_t>(stream);
  if (args.pool_bf16) run_prefill_for<uint16_t>(args, longest, s);
  else run_prefill_for<float>(args, longest, s);
}

}  // namespace strata::kernels::cuda
