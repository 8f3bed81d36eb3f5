// The tensor-core twin of ssd_tile.cuh's tile_product, for the fast path (SsdParams::bf16_products):
// the same 64×64 output tile, the same loader functors and the same acc[4][4] per thread on the way out,
// but the operands are rounded to bf16 as they are staged in shared memory and multiplied by the warps'
// WMMA 16×16×16 products with f32 accumulation. Eight warps: warp w owns rows 16·(w / 2) and the two
// 16-column blocks at 32·(w % 2); the accumulators go through shared memory into each thread's 4×4 patch
// so the callers' epilogues are the ones the f32 path uses.
#pragma once

#include <cuda_bf16.h>
#include <mma.h>

#include <type_traits>

#include "strata/kernels/cuda/ssd_tile.cuh"

namespace strata::kernels::cuda::ssd_detail {

constexpr int kDepthBf16 = 32;         // k per shared-memory stage: two WMMA steps
constexpr int kPitchBf16 = kTile + 8;  // bf16 per staged row: 144 bytes, a multiple of WMMA's 16
constexpr int kOutPitch = kTile + 4;   // floats per row of the accumulator tile

struct __align__(32) TileSmemBf16 {
  union {
    struct {
      __nv_bfloat16 a[kDepthBf16][kPitchBf16];  // a[k][m]: operand A, k-major (a col-major M×K matrix)
      __nv_bfloat16 b[kDepthBf16][kPitchBf16];  // b[k][n]: operand B, k-major (a row-major K×N matrix)
    } stage;
    float out[kTile][kOutPitch];  // the finished tile, read back by the 4×4 patches
  };
};

// One bf16 stage: dst[k][m] = bf16(load(k0 + k, m)) for k0 + k < k_end, zero past it (kKFast as in
// fill_stage: which index consecutive threads walk, for coalesced reads).
template <bool kKFast, typename Load>
__device__ __forceinline__ void fill_stage_bf16(__nv_bfloat16 (*dst)[kPitchBf16], int k0, int k_end,
                                                const Load& load) {
#pragma unroll
  for (int r = 0; r < kDepthBf16 * kTile / kThreads; ++r) {
    const int i = static_cast<int>(threadIdx.x) + r * kThreads;
    const int k = kKFast ? i % kDepthBf16 : i / kTile;
    const int m = kKFast ? i / kDepthBf16 : i % kTile;
    dst[k][m] = __float2bfloat16_rn(k0 + k < k_end ? load(k0 + k, m) : 0.0f);
  }
}

// acc[i][j] += Σ_{k in [k_begin, k_end)} bf16(A(k, 4·ty + i)) · bf16(B(k, 4·tx + j)), f32 accumulation;
// the contract of tile_product otherwise (every thread calls it; it synchronises).
template <bool kAKFast, bool kBKFast, typename LoadA, typename LoadB>
__device__ __forceinline__ void tile_product_bf16(int k_begin, int k_end, const LoadA& load_a,
                                                  const LoadB& load_b, TileSmemBf16& smem, float (&acc)[4][4]) {
  namespace wmma = nvcuda::wmma;
  const int warp = static_cast<int>(threadIdx.x) / 32;
  const int row0 = (warp / 2) * 16, col0 = (warp % 2) * 32;
  wmma::fragment<wmma::accumulator, 16, 16, 16, float> left, right;
  wmma::fill_fragment(left, 0.0f);
  wmma::fill_fragment(right, 0.0f);
  for (int k0 = k_begin; k0 < k_end; k0 += kDepthBf16) {
    fill_stage_bf16<kAKFast>(smem.stage.a, k0, k_end, load_a);
    fill_stage_bf16<kBKFast>(smem.stage.b, k0, k_end, load_b);
    __syncthreads();
#pragma unroll
    for (int k = 0; k < kDepthBf16; k += 16) {
      wmma::fragment<wmma::matrix_a, 16, 16, 16, __nv_bfloat16, wmma::col_major> a;
      wmma::fragment<wmma::matrix_b, 16, 16, 16, __nv_bfloat16, wmma::row_major> b_left, b_right;
      wmma::load_matrix_sync(a, &smem.stage.a[k][row0], kPitchBf16);
      wmma::load_matrix_sync(b_left, &smem.stage.b[k][col0], kPitchBf16);
      wmma::load_matrix_sync(b_right, &smem.stage.b[k][col0 + 16], kPitchBf16);
      wmma::mma_sync(left, a, b_left, left);
      wmma::mma_sync(right, a, b_right, right);
    }
    __syncthreads();  // the next stage (or the output tile) overwrites what this one read
  }
  wmma::store_matrix_sync(&smem.out[row0][col0], left, kOutPitch, wmma::mem_row_major);
  wmma::store_matrix_sync(&smem.out[row0][col0 + 16], right, kOutPitch, wmma::mem_row_major);
  __syncthreads();
  const int ty = static_cast<int>(threadIdx.x) / 16, tx = static_cast<int>(threadIdx.x) % 16;
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const float4 v = *reinterpret_cast<const float4*>(&smem.out[4 * ty + i][4 * tx]);
    acc[i][0] += v.x;
    acc[i][1] += v.y;
    acc[i][2] += v.z;
    acc[i][3] += v.w;
  }
  __syncthreads();  // a second product may stage into the same memory
}

// The phases pick their arithmetic at compile time: `__shared__ TileSmemFor<kBf16> smem;` and then
// tile_product(..., smem, acc) resolves to the f32 or the tensor-core product by the memory's type.
template <bool kBf16>
using TileSmemFor = std::conditional_t<kBf16, TileSmemBf16, TileSmem>;

template <bool kAKFast, bool kBKFast, typename LoadA, typename LoadB>
__device__ __forceinline__ void tile_product(int k_begin, int k_end, const LoadA& load_a, const LoadB& load_b,
                                             TileSmemBf16& smem, float (&acc)[4][4]) {
  tile_product_bf16<kAKFast, kBKFast>(k_begin, k_end, load_a, load_b, smem, acc);
}

}  // namespace strata::kernels::cuda::ssd_detail
