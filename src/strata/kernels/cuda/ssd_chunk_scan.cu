// The CUDA SSD scan's two attention-like products. C·Bᵀ per (chunk, group), lower-triangle 64×64 tiles,
// shared by the group's heads. Phase 4 per (chunk, head) and 64×64 tile of [t, p]:
//   y[t][p] = exp(cs_t)·Σ_n C_t[n]·S_in[p][n]  +  Σ_{s<=t} CB[t][s]·exp(cs_t − cs_s)·dt_s·x_s[p]  +  D·x_t[p]
// with S_in the state entering the chunk (after the state pass). Each product runs as f32 FMAs or, with
// SsdArgs::bf16_products, on the tensor cores (ssd_tile_bf16.cuh).
#include "strata/core/cuda_context.h"
#include "strata/kernels/cuda/ssd_kernels.h"
#include "strata/kernels/cuda/ssd_tile_bf16.cuh"
#include "strata/kernels/cuda/launch.cuh"

namespace strata::kernels::cuda {

namespace {

using namespace ssd_detail;

int tiles(int extent) { return (extent + kTile - 1) / kTile; }

// blockIdx: x = chunk·G + group, y = tile of t, z = tile of s. Tiles wholly above the diagonal are skipped.
template <bool kBf16>
__global__ void __launch_bounds__(kThreads, kBf16 ? 3 : 1) chunk_cb(SsdArgs args) {
  enter_kernel();  // launch.cuh: before any global memory access
  const int chunk_index = static_cast<int>(blockIdx.x) / args.groups;
  const int g = static_cast<int>(blockIdx.x) % args.groups;
  if (chunk_index >= args.first_chunk[args.num_sequences]) return;
  const SsdChunk chunk = args.chunks[chunk_index];
  const int t0 = static_cast<int>(blockIdx.y) * kTile, s0 = static_cast<int>(blockIdx.z) * kTile;
  if (t0 >= chunk.length || s0 >= chunk.length || s0 > t0 + kTile - 1) return;  // uniform per block
  const int N = args.state_size, Q = args.chunk_size;

  __shared__ TileSmemFor<kBf16> smem;
  float acc[4][4];
  zero(acc);
  const int64_t column = static_cast<int64_t>(g) * N;
  const float* c_rows = args.c + chunk.begin * args.ldc + column;
  const float* b_rows = args.b + chunk.begin * args.ldb + column;
  if constexpr (kBf16) {
    const RowsLoad4 load_c{c_rows, args.ldc, t0, chunk.length, aligned16(c_rows) && args.ldc % 4 == 0};
    const RowsLoad4 load_b{b_rows, args.ldb, s0, chunk.length, aligned16(b_rows) && args.ldb % 4 == 0};
    tile_product_bf16(0, N, load_c, load_b, smem, acc);
  } else {
    const RowsLoad load_c{c_rows, args.ldc, t0, chunk.length};
    const RowsLoad load_b{b_rows, args.ldb, s0, chunk.length};
    tile_product</*kAKFast=*/true, /*kBKFast=*/true>(0, N, load_c, load_b, smem, acc);
  }

  float* cb = args.cb + (static_cast<int64_t>(chunk_index) * args.groups + g) * Q * Q;
  const int ty = static_cast<int>(threadIdx.x) / 16, tx = static_cast<int>(threadIdx.x) % 16;
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const int t = t0 + 4 * ty + i;
    if (t >= chunk.length) continue;
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const int s = s0 + 4 * tx + j;
      if (s < chunk.length) cb[static_cast<int64_t>(t) * Q + s] = acc[i][j];
    }
  }
}

// The intra-chunk mixing matrix, built while loading: A(k = s, m) = CB[t][s]·exp(cs_t − cs_s)·dt_s for
// s <= t (t = t0 + m inside the chunk), zero above the diagonal and past the chunk. The difference of the
// two cumsums is taken in double (see ssd_prepare.cu), then rounded, as on the CPU.
struct MaskedCbLoad {
  const float* cb;  // [Q][Q] of this chunk and group
  int q;
  const double* cumsum;
  const float* dt;
  int t0, length;
  __device__ __forceinline__ float operator()(int s, int m) const {
    const int t = t0 + m;
    if (t >= length || s > t) return 0.0f;
    const float decay = exp_nonpositive(static_cast<float>(cumsum[t] - cumsum[s]));
    return cb[static_cast<int64_t>(t) * q + s] * decay * dt[s];
  }
};

// blockIdx: x = chunk·H + head, y = tile of t, z = tile of p.
template <bool kBf16>
__global__ void __launch_bounds__(kThreads, kBf16 ? 3 : 1) chunk_scan(SsdArgs args) {
  enter_kernel();  // launch.cuh: before any global memory access
  const int chunk_index = static_cast<int>(blockIdx.x) / args.heads;
  const int h = static_cast<int>(blockIdx.x) % args.heads;
  if (chunk_index >= args.first_chunk[args.num_sequences]) return;
  const SsdChunk chunk = args.chunks[chunk_index];
  const int t0 = static_cast<int>(blockIdx.y) * kTile;
  if (t0 >= chunk.length) return;  // uniform per block
  const int p0 = static_cast<int>(blockIdx.z) * kTile;
  const int P = args.head_dim, N = args.state_size, Q = args.chunk_size;
  const int g = h / (args.heads / args.groups);
  const int64_t vec = (static_cast<int64_t>(chunk_index) * args.heads + h) * Q;
  const float* x = args.x + chunk.begin * args.ldx + static_cast<int64_t>(h) * P;

  __shared__ TileSmemFor<kBf16> smem;
  float from_state[4][4], within[4][4];
  zero(from_state);
  zero(within);
  const float* c_rows = args.c + chunk.begin * args.ldc + static_cast<int64_t>(g) * N;
  const float* state = args.states + (static_cast<int64_t>(chunk.entry) * args.heads + h) * P * N;
  const float* cb = args.cb + (static_cast<int64_t>(chunk_index) * args.groups + g) * Q * Q;
  // Causal: the tile's rows end at t0 + 64, so later tokens s contribute nothing.
  const int s_end = min(t0 + kTile, chunk.length);
  if constexpr (kBf16) {
    if (!chunk.zero_state) {  // uniform per block; a known-zero entering state contributes nothing
      const RowsLoad4 load_c{c_rows, args.ldc, t0, chunk.length, aligned16(c_rows) && args.ldc % 4 == 0};
      const RowsLoad4 load_state{state, N, p0, P, N % 4 == 0};  // S_in[p][n]: row p, contiguous along n
      tile_product_bf16(0, N, load_c, load_state, smem, from_state);
    }
    const MaskedCbLoad4 load_m{cb, Q, args.cumsum + vec, args.dt_out + vec, t0, chunk.length, Q % 4 == 0};
    const ColsLoad4 load_x{x, args.ldx, p0, P, aligned16(x) && args.ldx % 4 == 0};
    tile_product_bf16(0, s_end, load_m, load_x, smem, within);
  } else {
    if (!chunk.zero_state) {
      const RowsLoad load_c{c_rows, args.ldc, t0, chunk.length};
      const RowsLoad load_state{state, N, p0, P};
      tile_product</*kAKFast=*/true, /*kBKFast=*/true>(0, N, load_c, load_state, smem, from_state);
    }
    const MaskedCbLoad load_m{cb, Q, args.cumsum + vec, args.dt_out + vec, t0, chunk.length};
    const ColsLoad load_x{x, args.ldx, p0, P};
    tile_product</*kAKFast=*/true, /*kBKFast=*/false>(0, s_end, load_m, load_x, smem, within);
  }

  const float d = args.d[h];
  float* y = args.y + chunk.begin * args.ldy + static_cast<int64_t>(h) * P;
  const int ty = static_cast<int>(threadIdx.x) / 16, tx = static_cast<int>(threadIdx.x) % 16;
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const int t = t0 + 4 * ty + i;
    if (t >= chunk.length) continue;
    const float decay = args.decay[vec + t];
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const int p = p0 + 4 * tx + j;
      if (p >= P) continue;
      // The CPU's order: (C·S)·decay + D·x first, then the intra-chunk sum on top.
      y[static_cast<int64_t>(t) * args.ldy + p] =
          (from_state[i][j] * decay + d * x[static_cast<int64_t>(t) * args.ldx + p]) + within[i][j];
    }
  }
}

}  // namespace

void launch_ssd_chunk_cb(const SsdArgs& args, void* stream) {
  if (args.num_chunks == 0) return;
  const int q_tiles = tiles(args.chunk_size);
  const dim3 grid(static_cast<unsigned>(args.num_chunks * args.groups), static_cast<unsigned>(q_tiles),
                  static_cast<unsigned>(q_tiles));
  const auto s = static_cast<cudaStream_t>(stream);
  if (args.bf16_products)
    launch_kernel(chunk_cb<true>, grid, kThreads, 0, s, args);
  else
    launch_kernel(chunk_cb<false>, grid, kThreads, 0, s, args);
  strata::cuda::check_last_error("ssd_scan: C·Bᵀ");
}

void launch_ssd_chunk_scan(const SsdArgs& args, void* stream) {
  if (args.num_chunks == 0) return;
  const dim3 grid(static_cast<unsigned>(args.num_chunks * args.heads), static_cast<unsigned>(tiles(args.chunk_size)),
                  static_cast<unsigned>(tiles(args.head_dim)));
  const auto s = static_cast<cudaStream_t>(stream);
  if (args.bf16_products)
    launch_kernel(chunk_scan<true>, grid, kThreads, 0, s, args);
  else
    launch_kernel(chunk_scan<false>, grid, kThreads, 0, s, args);
  strata::cuda::check_last_error("ssd_scan: chunk scan");
}

}  // namespace strata::kernels::cuda
