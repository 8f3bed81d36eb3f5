// Device building blocks of the CUDA SSD scan: a 64×64 f32 output tile accumulated over K through shared
// memory by 256 threads (4×4 outputs each), with operands produced by loader functors (so masks, decays
// and strides live in the caller), plus the scalar helpers the phases share (exp of a non-positive
// argument, bf16 bits). f32 FMAs in increasing k order, like the CPU's register tiles.
#pragma once

#include <cstdint>

namespace strata::kernels::cuda::ssd_detail {

constexpr int kTile = 64;      // output tile edge (rows and columns)
constexpr int kDepth = 16;     // k per shared-memory stage
constexpr int kThreads = 256;  // 16×16 threads, 4×4 outputs each
constexpr int kPitch = kTile + 4;  // row pitch in floats: keeps rows 16-byte aligned for float4 reads

struct __align__(16) TileSmem {
  float a[kDepth][kPitch];  // a[k][m]: operand A, k-major
  float b[kDepth][kPitch];  // b[k][n]: operand B, k-major
};

// exp of a decay exponent: the scan only ever needs non-positive arguments (dt >= 0, A <= 0), so the
// clamp only guards rounding; full-precision expf (not __expf) to stay within an ulp or two of the CPU.
__device__ __forceinline__ float exp_nonpositive(float v) { return expf(fminf(v, 0.0f)); }

__device__ __forceinline__ float bf16_bits_to_f32(uint16_t bits) {
  return __uint_as_float(static_cast<uint32_t>(bits) << 16);
}
// Round to nearest even, NaN stays NaN: the same bits as the CPU's f32_to_bf16.
__device__ __forceinline__ uint16_t f32_to_bf16_bits(float f) {
  uint32_t u = __float_as_uint(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x40u);
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<uint16_t>(u >> 16);
}

// Fills one operand stage: dst[k][m] = load(k0 + k, m) for k0 + k < k_end, zero past it. kKFast picks
// which index consecutive threads walk, so the global reads coalesce (k-fast when the operand's memory
// is contiguous along k, m-fast when contiguous along m).
template <bool kKFast, typename Load>
__device__ __forceinline__ void fill_stage(float (*dst)[kPitch], int k0, int k_end, const Load& load) {
#pragma unroll
  for (int r = 0; r < kDepth * kTile / kThreads; ++r) {
    const int i = static_cast<int>(threadIdx.x) + r * kThreads;
    const int k = kKFast ? i % kDepth : i / kTile;
    const int m = kKFast ? i / kDepth : i % kTile;
    dst[k][m] = k0 + k < k_end ? load(k0 + k, m) : 0.0f;
  }
}

// acc[i][j] += Σ_{k in [k_begin, k_end)} A(k, 4·ty + i) · B(k, 4·tx + j), ty = tid / 16, tx = tid % 16.
// load_a(k, m) / load_b(k, n) take the absolute k and the tile-local row / column and must return 0 for
// rows / columns outside the problem. Every thread of the block must call it (it synchronises).
template <bool kAKFast, bool kBKFast, typename LoadA, typename LoadB>
__device__ __forceinline__ void tile_product(int k_begin, int k_end, const LoadA& load_a, const LoadB& load_b,
                                             TileSmem& smem, float (&acc)[4][4]) {
  const int ty = static_cast<int>(threadIdx.x) / 16, tx = static_cast<int>(threadIdx.x) % 16;
  for (int k0 = k_begin; k0 < k_end; k0 += kDepth) {
    fill_stage<kAKFast>(smem.a, k0, k_end, load_a);
    fill_stage<kBKFast>(smem.b, k0, k_end, load_b);
    __syncthreads();
#pragma unroll
    for (int k = 0; k < kDepth; ++k) {
      const float4 a4 = *reinterpret_cast<const float4*>(&smem.a[k][4 * ty]);
      const float4 b4 = *reinterpret_cast<const float4*>(&smem.b[k][4 * tx]);
      const float av[4] = {a4.x, a4.y, a4.z, a4.w};
      const float bv[4] = {b4.x, b4.y, b4.z, b4.w};
#pragma unroll
      for (int i = 0; i < 4; ++i)
#pragma unroll
        for (int j = 0; j < 4; ++j) acc[i][j] = fmaf(av[i], bv[j], acc[i][j]);
    }
    __syncthreads();  // the next stage overwrites what this one read
  }
}

// Loaders over token-row memory (row stride ld, unit column stride). Rows: operand index m picks a row,
// k runs along it (use k-fast). Cols: k picks the row, n a column (use m-fast). Out-of-range rows / columns
// read as zero; k is always in range (the callers bound it by the chunk length or the width).
struct RowsLoad {
  const float* base;
  int64_t ld;
  int row0, rows;
  __device__ __forceinline__ float operator()(int k, int m) const {
    const int row = row0 + m;
    return row < rows ? base[static_cast<int64_t>(row) * ld + k] : 0.0f;
  }
};

struct ColsLoad {
  const float* base;
  int64_t ld;
  int col0, cols;
  __device__ __forceinline__ float operator()(int k, int n) const {
    const int col = col0 + n;
    return col < cols ? base[static_cast<int64_t>(k) * ld + col] : 0.0f;
  }
};

__device__ __forceinline__ void zero(float (&acc)[4][4]) {
#pragma unroll
  for (int i = 0; i < 4; ++i)
#pragma unroll
    for (int j = 0; j < 4; ++j) acc[i][j] = 0.0f;
}

}  // namespace strata::kernels::cuda::ssd_detail
