// The tensor-core twin of ssd_tile.cuh's tile_product, for the fast path (SsdParams::bf16_products):
// the same 64×64 output tile and the same acc[4][4] per thread on the way out (so the phases' epilogues
// are shared with the f32 path), but the operands are rounded to bf16 as they are staged in shared memory
// and multiplied by WMMA 16×16×16 products with f32 accumulation.
//
// Why it is shaped this way: the SSD's products are small (K of 32 to 256) and their operands come from
// L2, so the cost is the loads, not the arithmetic. Each operand is staged in its memory's own layout —
// kMajorK when consecutive k are contiguous (C's rows, B's rows in C·Bᵀ, the state's rows, C·Bᵀ's rows),
// kMajorM when consecutive m (or n) are (x's and B's rows over tokens) — so every thread moves float4s and
// the fragment's row/col-major tag absorbs the transpose. The next stage's float4s are loaded into
// registers while the tensor cores work on the current one (two stage buffers, one barrier per stage).
// Eight warps: warp w owns rows 16·(w / 2) and the two 16-column blocks at 32·(w % 2).
//
// A loader is a functor with `static constexpr bool kMajorK` and
//   __device__ float4 operator()(int k, int m, int k_end) const
// returning the operand at (k..k+3, m) for kMajorK, (k, m..m+3) otherwise, zero outside the problem
// (m beyond the rows, k >= k_end). k is absolute; m is the tile-local row (A) or column (B).
#pragma once

#include <cuda_bf16.h>
#include <mma.h>

#include <type_traits>

#include "strata/kernels/cuda/ssd_tile.cuh"

namespace strata::kernels::cuda::ssd_detail {

constexpr int kDepthBf16 = 32;        // k per stage: two WMMA steps
constexpr int kPadBf16 = 8;           // bf16 of row padding: keeps rows 16-byte multiples, staggers banks
constexpr int kOutPitch = kTile + 4;  // floats per row of the accumulator tile

// One operand's stage, in the memory's layout: [m][k] for kMajorK, [k][m] otherwise.
template <bool kMajorK>
struct StageOf {
  static constexpr int kRows = kMajorK ? kTile : kDepthBf16;
  static constexpr int kPitch = (kMajorK ? kDepthBf16 : kTile) + kPadBf16;
  __nv_bfloat16 v[kRows][kPitch];
};

// Each operand's two stage buffers in whichever layout its loader has (a union: a kernel's products may
// differ), and the output tile over both once the products are done.
union StagePair {
  StageOf<true> k[2];
  StageOf<false> m[2];
};

struct __align__(32) TileSmemBf16 {
  union {
    struct {
      StagePair a, b;
    } stage;
    float out[kTile][kOutPitch];  // the finished tile, read back by the 4×4 patches
  };
};

template <bool kMajorK>
__device__ __forceinline__ StageOf<kMajorK>* stages_of(StagePair& pair) {
  if constexpr (kMajorK) return pair.k; else return pair.m;
}

// A stage is 64 × 32 = 512 float4s: two per thread. Thread i's j-th float4 in stage coordinates.
template <bool kMajorK>
__device__ __forceinline__ void stage_slot(int j, int& k, int& m) {
  const int i = static_cast<int>(threadIdx.x) + j * kThreads;
  if constexpr (kMajorK) {  // 64 rows m × 8 float4 along k
    m = i / (kDepthBf16 / 4);
    k = i % (kDepthBf16 / 4) * 4;
  } else {  // 32 rows k × 16 float4 along m
    k = i / (kTile / 4);
    m = i % (kTile / 4) * 4;
  }
}

template <typename Load>
__device__ __forceinline__ void fetch(const Load& load, int k0, int k_end, float4 (&r)[2]) {
#pragma unroll
  for (int j = 0; j < 2; ++j) {
    int k, m;
    stage_slot<Load::kMajorK>(j, k, m);
    r[j] = load(k0 + k, m, k_end);
  }
}

template <bool kMajorK>
__device__ __forceinline__ void put(StageOf<kMajorK>& stage, const float4 (&r)[2]) {
#pragma unroll
  for (int j = 0; j < 2; ++j) {
    int k, m;
    stage_slot<kMajorK>(j, k, m);
    __nv_bfloat162* dst =
        reinterpret_cast<__nv_bfloat162*>(kMajorK ? &stage.v[m][k] : &stage.v[k][m]);  // 8-byte aligned
    dst[0] = __floats2bfloat162_rn(r[j].x, r[j].y);
    dst[1] = __floats2bfloat162_rn(r[j].z, r[j].w);
  }
}

// acc[i][j] += Σ_{k in [k_begin, k_end)} bf16(A(k, 4·ty + i)) · bf16(B(k, 4·tx + j)), f32 accumulation;
// the contract of tile_product otherwise (every thread calls it; it synchronises).
template <typename LoadA, typename LoadB>
__device__ __forceinline__ void tile_product_bf16(int k_begin, int k_end, const LoadA& load_a,
                                                  const LoadB& load_b, TileSmemBf16& smem, float (&acc)[4][4]) {
  namespace wmma = nvcuda::wmma;
  constexpr bool kAK = LoadA::kMajorK, kBK = LoadB::kMajorK;
  using ALayout = std::conditional_t<kAK, wmma::row_major, wmma::col_major>;
  using BLayout = std::conditional_t<kBK, wmma::col_major, wmma::row_major>;
  StageOf<kAK>* a = stages_of<kAK>(smem.stage.a);
  StageOf<kBK>* b = stages_of<kBK>(smem.stage.b);
  const int warp = static_cast<int>(threadIdx.x) / 32;
  const int row0 = (warp / 2) * 16, col0 = (warp % 2) * 32;
  wmma::fragment<wmma::accumulator, 16, 16, 16, float> left, right;
  wmma::fill_fragment(left, 0.0f);
  wmma::fill_fragment(right, 0.0f);

  const int stages = k_end > k_begin ? (k_end - k_begin + kDepthBf16 - 1) / kDepthBf16 : 0;
  float4 ra[2], rb[2];
  if (stages > 0) {
    fetch(load_a, k_begin, k_end, ra);
    fetch(load_b, k_begin, k_end, rb);
    put<kAK>(a[0], ra);
    put<kBK>(b[0], rb);
  }
  __syncthreads();
  for (int s = 0; s < stages; ++s) {
    const int buffer = s & 1;
    const bool more = s + 1 < stages;
    if (more) {  // the next stage's loads fly while this one multiplies
      fetch(load_a, k_begin + (s + 1) * kDepthBf16, k_end, ra);
      fetch(load_b, k_begin + (s + 1) * kDepthBf16, k_end, rb);
    }
#pragma unroll
    for (int k = 0; k < kDepthBf16; k += 16) {
      wmma::fragment<wmma::matrix_a, 16, 16, 16, __nv_bfloat16, ALayout> fa;
      wmma::fragment<wmma::matrix_b, 16, 16, 16, __nv_bfloat16, BLayout> fl, fr;
      const __nv_bfloat16* pa = kAK ? &a[buffer].v[row0][k] : &a[buffer].v[k][row0];
      const __nv_bfloat16* pl = kBK ? &b[buffer].v[col0][k] : &b[buffer].v[k][col0];
      const __nv_bfloat16* pr = kBK ? &b[buffer].v[col0 + 16][k] : &b[buffer].v[k][col0 + 16];
      wmma::load_matrix_sync(fa, pa, StageOf<kAK>::kPitch);
      wmma::load_matrix_sync(fl, pl, StageOf<kBK>::kPitch);
      wmma::load_matrix_sync(fr, pr, StageOf<kBK>::kPitch);
      wmma::mma_sync(left, fa, fl, left);
      wmma::mma_sync(right, fa, fr, right);
    }
    if (more) {  // the other buffer: its last readers finished before the previous barrier
      put<kAK>(a[buffer ^ 1], ra);
      put<kBK>(b[buffer ^ 1], rb);
    }
    __syncthreads();
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

// ---- float4 loaders over token-row memory (row stride ld, unit column stride) ---------------------------

// Four consecutive floats p[0..3] where lane l exists when `valid(l)`; 16-byte loads when `vector`.
template <typename Valid>
__device__ __forceinline__ float4 load4(const float* p, bool vector, const Valid& valid) {
  if (vector && valid(3)) return *reinterpret_cast<const float4*>(p);
  float4 r;
  r.x = valid(0) ? p[0] : 0.0f;
  r.y = valid(1) ? p[1] : 0.0f;
  r.z = valid(2) ? p[2] : 0.0f;
  r.w = valid(3) ? p[3] : 0.0f;
  return r;
}

// kMajorK: operand (k, m) = base[(row0 + m)·ld + k], rows beyond `rows` zero.
struct RowsLoad4 {
  static constexpr bool kMajorK = true;
  const float* base;
  int64_t ld;
  int row0, rows;
  bool vector;  // base and ld·4 bytes 16-byte aligned
  __device__ __forceinline__ float4 operator()(int k, int m, int k_end) const {
    const int row = row0 + m;
    const float* p = base + static_cast<int64_t>(row < rows ? row : 0) * ld + k;
    return load4(p, vector, [&](int l) { return row < rows && k + l < k_end; });
  }
};

// kMajorM: operand (k, m) = base[k·ld + col0 + m] · (scale ? scale[k] : 1), columns beyond `cols` zero.
struct ColsLoad4 {
  static constexpr bool kMajorK = false;
  const float* base;
  int64_t ld;
  int col0, cols;
  bool vector;  // base + col0 and ld·4 bytes 16-byte aligned
  const float* scale = nullptr;
  __device__ __forceinline__ float4 operator()(int k, int m, int k_end) const {
    const int col = col0 + m;
    if (k >= k_end) return make_float4(0.0f, 0.0f, 0.0f, 0.0f);
    float4 r = load4(base + static_cast<int64_t>(k) * ld + col, vector, [&](int l) { return col + l < cols; });
    if (scale != nullptr) {
      const float s = scale[k];
      r.x *= s, r.y *= s, r.z *= s, r.w *= s;
    }
    return r;
  }
};

// kMajorK: the intra-chunk mixing matrix, (k = s, m) = CB[t][s]·exp(cs_t − cs_s)·dt_s for s <= t
// (t = t0 + m), zero above the diagonal and past the chunk; the cumsum difference taken in double.
struct MaskedCbLoad4 {
  static constexpr bool kMajorK = true;
  const float* cb;  // [Q][Q] of this chunk and group
  int q;
  const double* cumsum;
  const float* dt;
  int t0, length;
  bool vector;  // q % 4 == 0 (cb itself is 256-byte aligned)
  __device__ __forceinline__ float4 operator()(int s, int m, int k_end) const {
    const int t = t0 + m;
    if (t >= length || s > t) return make_float4(0.0f, 0.0f, 0.0f, 0.0f);
    const float4 c = load4(cb + static_cast<int64_t>(t) * q + s, vector,
                           [&](int l) { return s + l <= t && s + l < k_end; });
    const double ct = cumsum[t];
    float v[4] = {c.x, c.y, c.z, c.w};
#pragma unroll
    for (int l = 0; l < 4; ++l)
      v[l] = s + l <= t && s + l < k_end
                 ? v[l] * exp_nonpositive(static_cast<float>(ct - cumsum[s + l])) * dt[s + l]
                 : 0.0f;
    return make_float4(v[0], v[1], v[2], v[3]);
  }
};

__device__ __forceinline__ bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

// The phases pick their arithmetic at compile time: `__shared__ TileSmemFor<kBf16> smem;` and the
// loaders of their path.
template <bool kBf16>
using TileSmemFor = std::conditional_t<kBf16, TileSmemBf16, TileSmem>;

}  // namespace strata::kernels::cuda::ssd_detail
