// Phase 2 of the CUDA SSD scan: each chunk's own state contribution, per (chunk, head) and 64×64 tile of
// [P, N]: ΔS[p][n] = Σ_s (x_s[p]·weight_s)·B_s[n], weight_s = exp(cs_last − cs_s)·dt_s (phase 1). It goes
// to state entry k + 1 of the chunk, which the state pass then turns into the state leaving the chunk.
// f32 FMAs or, with SsdArgs::bf16_products, the tensor cores (bf16 operands, f32 sums).
#include "strata/core/cuda_context.h"
#include "strata/kernels/cuda/ssd_kernels.h"
#include "strata/kernels/cuda/ssd_tile_bf16.cuh"
#include "strata/kernels/cuda/launch.cuh"

namespace strata::kernels::cuda {

namespace {

using namespace ssd_detail;

// x of one head scaled by each token's weight: A(k = s, m = p) = x[s][p0 + m]·weight[s].
struct WeightedXLoad {
  const float* x;
  int64_t ld;
  const float* weight;
  int col0, cols;
  __device__ __forceinline__ float operator()(int s, int m) const {
    const int col = col0 + m;
    return col < cols ? x[static_cast<int64_t>(s) * ld + col] * weight[s] : 0.0f;
  }
};

// blockIdx: x = chunk·H + head, y = tile of P, z = tile of N.
template <bool kBf16>
__global__ void __launch_bounds__(kThreads, kBf16 ? 3 : 1) chunk_state(SsdArgs args) {
  enter_kernel();  // launch.cuh: before any global memory access
  const int chunk_index = static_cast<int>(blockIdx.x) / args.heads;
  const int h = static_cast<int>(blockIdx.x) % args.heads;
  if (chunk_index >= args.first_chunk[args.num_sequences]) return;
  const SsdChunk chunk = args.chunks[chunk_index];
  const int P = args.head_dim, N = args.state_size;
  const int g = h / (args.heads / args.groups);
  const int p0 = static_cast<int>(blockIdx.y) * kTile, n0 = static_cast<int>(blockIdx.z) * kTile;
  const int64_t vec = (static_cast<int64_t>(chunk_index) * args.heads + h) * args.chunk_size;

  __shared__ TileSmemFor<kBf16> smem;
  float acc[4][4];
  zero(acc);
  const float* x_rows = args.x + chunk.begin * args.ldx + static_cast<int64_t>(h) * P;
  const float* b_rows = args.b + chunk.begin * args.ldb + static_cast<int64_t>(g) * N;
  if constexpr (kBf16) {
    const ColsLoad4 load_x{x_rows, args.ldx, p0, P, aligned16(x_rows) && args.ldx % 4 == 0, args.weight + vec};
    const ColsLoad4 load_b{b_rows, args.ldb, n0, N, aligned16(b_rows) && args.ldb % 4 == 0};
    tile_product_bf16(0, chunk.length, load_x, load_b, smem, acc);
  } else {
    const WeightedXLoad load_x{x_rows, args.ldx, args.weight + vec, p0, P};
    const ColsLoad load_b{b_rows, args.ldb, n0, N};
    tile_product</*kAKFast=*/false, /*kBKFast=*/false>(0, chunk.length, load_x, load_b, smem, acc);
  }

  float* out = args.states + (static_cast<int64_t>(chunk.entry + 1) * args.heads + h) * P * N;
  const int ty = static_cast<int>(threadIdx.x) / 16, tx = static_cast<int>(threadIdx.x) % 16;
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const int p = p0 + 4 * ty + i;
    if (p >= P) continue;
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const int n = n0 + 4 * tx + j;
      if (n < N) out[static_cast<int64_t>(p) * N + n] = acc[i][j];
    }
  }
}

}  // namespace

void launch_ssd_chunk_state(const SsdArgs& args, void* stream) {
  if (args.num_chunks == 0) return;
  const dim3 grid(static_cast<unsigned>(args.num_chunks * args.heads),
                  static_cast<unsigned>((args.head_dim + kTile - 1) / kTile),
                  static_cast<unsigned>((args.state_size + kTile - 1) / kTile));
  const auto s = static_cast<cudaStream_t>(stream);
  if (args.bf16_products)
    launch_kernel(chunk_state<true>, grid, kThreads, 0, s, args);
  else
    launch_kernel(chunk_state<false>, grid, kThreads, 0, s, args);
  strata::cuda::check_last_error("ssd_scan: chunk states");
}

}  // namespace strata::kernels::cuda
