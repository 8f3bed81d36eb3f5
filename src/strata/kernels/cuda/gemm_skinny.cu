// The skinny GEMM: y[M,N] = (accumulate ? y : 0) + bias + x[M,K]·W[N,K]ᵀ for few tokens, where the
// product is a stream over the weight (decode against weights of tens of MB; cuda/gemm.h says up to which
// M it beats cuBLAS).
//
// Launch shape: a block of kThreads = 128 threads owns kRows = 4 consecutive weight rows (outputs) and a
// tile of up to kTile ∈ {1, 2, 4, 8} tokens. Its threads split K into chunks of 8 elements, thread t
// taking chunks t, t + 128, ...: per chunk one 16-byte load per weight row (bf16/f16; two for f32), the
// matching 8 x values per token (f32, through the read-only cache: x is a few KB to a few hundred KB and
// every block of the SM re-reads it, so it stays in L1/L2), and 8·kRows·kTile FMAs into f32 registers.
// A thread issues the weight loads of up to 2 to 4 chunks before using the first (the stream is
// latency-bound: a thread has only a few chunks at these K), keeping them packed until used.
// The partial sums then reduce over the warp with shuffles and over the 4 warps through shared memory,
// and one thread per output adds bias and the old y. Grid: ceil(M / kTile) · ceil(N / kRows) blocks, the
// token tiles of one row group adjacent in launch order, so for M > 8 the tiles reading the same weight
// rows run together and all but the first find them in L2.
//
// Any K, N, M and row strides: 16-byte loads need 16-byte aligned rows (base pointer and row stride),
// checked once on the host (w_vector, x_vector); otherwise, and for the last partial chunk of a row,
// elements load one by one with the bound checked. Out-of-range rows (n ≥ N, m ≥ M in the last block
// and tile) read the last valid row and are not written, which keeps the inner loops free of branches.
// Arithmetic: exact f32 products of f32 x and the widened weight, summed in a different order than the
// CPU's (per-thread chunks, then a tree): ~1e-6 relative.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

#include "strata/core/cuda_runtime.h"
#include "strata/kernels/cuda/gemm_device.cuh"
#include "strata/kernels/cuda/gemm_launch.h"
#include "strata/kernels/cuda/launch.cuh"

namespace strata::kernels::cuda {
namespace {

using namespace gemm_device;

constexpr int kThreads = 128;
constexpr int kWarps = kThreads / 32;
constexpr int kRows = 4;     // weight rows (output columns) per block
constexpr int kChunk = 8;    // K elements per thread per step: 16 bytes of bf16/f16
constexpr int kMaxTile = 8;  // tokens per block; more tokens take more blocks

struct SkinnyArgs {
  const float* x = nullptr;
  int64_t ldx = 0;
  const char* weight = nullptr;
  int64_t ldw_bytes = 0;
  float* y = nullptr;
  int64_t ldy = 0;
  const void* bias = nullptr;
  int bias_kind = kF32;
  int64_t bias_stride = 1;
  int64_t m = 0, n = 0, k = 0;
  int64_t m_tiles = 1;
  bool w_vector = false, x_vector = false, accumulate = false;
  NormPrologue prologue;
};

__device__ __forceinline__ float silu(float v) { return v / (1.0f + expf(-v)); }  // cpu/activations.h's form

// i, or the last valid index when i >= count.
__device__ __forceinline__ int64_t clamp_below(int64_t i, int64_t count) { return i < count ? i : count - 1; }

// 16 bytes of weight that nothing reads again in this kernel: the read-only path without allocating in L1,
// so the weight stream does not evict x from it.
__device__ __forceinline__ uint4 load_weight16(const char* p) {
  uint4 v;
  asm("ld.global.nc.L1::no_allocate.v4.u32 {%0, %1, %2, %3}, [%4];"
      : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w)
      : "l"(p));
  return v;
}

// One chunk of every weight row as loaded: 16 bytes per row (bf16/f16), 32 for f32. Kept packed until
// it is used, so several chunks' loads can be in flight at once for few registers.
template <int kKind>
struct RawChunk {
  static constexpr int kVectors = kKind == kF32 ? 2 : 1;
  static constexpr int64_t kElementBytes = kKind == kF32 ? 4 : 2;
  uint4 v[kRows][kVectors];
};

template <int kKind>
__device__ __forceinline__ void load_chunk(const char* const (&rows)[kRows], int64_t k0, RawChunk<kKind>& c) {
#pragma unroll
  for (int r = 0; r < kRows; ++r)
#pragma unroll
    for (int v = 0; v < RawChunk<kKind>::kVectors; ++v)
      c.v[r][v] = load_weight16(rows[r] + k0 * RawChunk<kKind>::kElementBytes + 16 * v);
}

// Row r of a loaded chunk as 8 f32 values.
template <int kKind>
__device__ __forceinline__ void widen(const RawChunk<kKind>& c, int r, float (&w)[kChunk]) {
  if constexpr (kKind == kF32) {
    const uint32_t words[8] = {c.v[r][0].x, c.v[r][0].y, c.v[r][0].z, c.v[r][0].w,
                               c.v[r][1].x, c.v[r][1].y, c.v[r][1].z, c.v[r][1].w};
#pragma unroll
    for (int i = 0; i < 8; ++i) w[i] = __uint_as_float(words[i]);
  } else {
    const uint32_t words[4] = {c.v[r][0].x, c.v[r][0].y, c.v[r][0].z, c.v[r][0].w};
#pragma unroll
    for (int i = 0; i < 4; ++i) {  // little-endian: element 2i is the low half of word i
      const uint32_t lo = words[i] & 0xffffu, hi = words[i] >> 16;
      w[2 * i] = kKind == kBf16 ? bf16_bits_to_f32(lo) : f16_bits_to_f32(lo);
      w[2 * i + 1] = kKind == kBf16 ? bf16_bits_to_f32(hi) : f16_bits_to_f32(hi);
    }
  }
}

__device__ __forceinline__ void load8(const float* p, float (&v)[kChunk]) {
  const float4 a = __ldg(reinterpret_cast<const float4*>(p));
  const float4 b = __ldg(reinterpret_cast<const float4*>(p + 4));
  v[0] = a.x, v[1] = a.y, v[2] = a.z, v[3] = a.w, v[4] = b.x, v[5] = b.y, v[6] = b.z, v[7] = b.w;
}

// acc[r][t] += Σ_j w[r][j] · x[t][k0 + j] over 8 weights per row and the matching x values. kShared: the
// x rows are the prologue's normed rows in shared memory (plain loads; __ldg is for global memory).
template <int kTile, bool kShared = false>
__device__ __forceinline__ void multiply(const float (&w)[kRows][kChunk], const float* const (&x_rows)[kTile],
                                         int64_t k0, bool x_vector, int64_t k, float (&acc)[kRows][kTile]) {
#pragma unroll
  for (int t = 0; t < kTile; ++t) {
    float xv[kChunk];
    if (kShared) {
      const float4 a = *reinterpret_cast<const float4*>(x_rows[t] + k0);
      const float4 b = *reinterpret_cast<const float4*>(x_rows[t] + k0 + 4);
      xv[0] = a.x, xv[1] = a.y, xv[2] = a.z, xv[3] = a.w, xv[4] = b.x, xv[5] = b.y, xv[6] = b.z, xv[7] = b.w;
    } else if (x_vector) {
      load8(x_rows[t] + k0, xv);
    } else {
#pragma unroll
      for (int j = 0; j < kChunk; ++j) xv[j] = k0 + j < k ? __ldg(x_rows[t] + k0 + j) : 0.0f;
    }
#pragma unroll
    for (int r = 0; r < kRows; ++r)
#pragma unroll
      for (int j = 0; j < kChunk; ++j) acc[r][t] = fmaf(w[r][j], xv[j], acc[r][t]);
  }
}

template <int kKind, int kTile, bool kShared>
__device__ __forceinline__ void multiply_chunk(const RawChunk<kKind>& c, const float* const (&x_rows)[kTile],
                                               int64_t k0, float (&acc)[kRows][kTile]) {
  float w[kRows][kChunk];
#pragma unroll
  for (int r = 0; r < kRows; ++r) widen<kKind>(c, r, w[r]);
  multiply<kTile, kShared>(w, x_rows, k0, true, k0 + kChunk, acc);
}

__device__ __forceinline__ float squares(float4 v, float sum) {
  return fmaf(v.w, v.w, fmaf(v.z, v.z, fmaf(v.y, v.y, fmaf(v.x, v.x, sum))));
}

constexpr int kPrologueBatch = 5;  // float4 loads per thread in flight at once in the prologue

// The prologue: the tile's x rows normed into shared memory, normed[t][k] = x'[m0 + t][k]. Pass 1 stores
// v = x (·silu(z)) and sums v² per group; the sums reduce over the warp (shuffles) and the warps (shared
// memory, fixed order), so every block computes the same bits; pass 2 scales by rstd and the norm weight
// (·silu(z) after the norm). Each pass issues kPrologueBatch float4 loads per thread before using any,
// so it costs a round trip to L2 or two, while the block's first weight loads are already in flight.
// Every thread of the block calls it (it synchronises).
template <int kTile>
__device__ __forceinline__ void norm_prologue(const SkinnyArgs& a, const float* const (&x_rows)[kTile], int64_t m0,
                                              float* normed) {
  __shared__ float partial[kWarps][kTile * kMaxNormGroups];
  __shared__ float rstd[kTile * kMaxNormGroups];
  const NormPrologue& p = a.prologue;
  const int lane = static_cast<int>(threadIdx.x) % 32, warp = static_cast<int>(threadIdx.x) / 32;
  const int64_t vectors = p.group_size / 4, k = a.k;
  const bool gate_first = p.z != nullptr && !p.gate_after, gate_after = p.z != nullptr && p.gate_after;
#pragma unroll
  for (int t = 0; t < kTile; ++t) {
    const float4* x = reinterpret_cast<const float4*>(x_rows[t]);
    const float4* z = p.z ? reinterpret_cast<const float4*>(p.z + clamp_below(m0 + t, a.m) * p.ldz) : nullptr;
    float4* out = reinterpret_cast<float4*>(normed + t * k);
    for (int g = 0; g < p.groups; ++g) {
      const int64_t end = (g + 1) * vectors;
      float sum = 0.0f;
      for (int64_t base = g * vectors + threadIdx.x; base < end; base += kPrologueBatch * kThreads) {
        float4 v[kPrologueBatch], gate[kPrologueBatch];
#pragma unroll
        for (int u = 0; u < kPrologueBatch; ++u) {
          const int64_t i = base + u * kThreads;
          if (i < end) {
            v[u] = __ldg(x + i);
            if (gate_first) gate[u] = __ldg(z + i);
          }
        }
#pragma unroll
        for (int u = 0; u < kPrologueBatch; ++u) {
          const int64_t i = base + u * kThreads;
          if (i < end) {
            if (gate_first)
              v[u] = make_float4(v[u].x * silu(gate[u].x), v[u].y * silu(gate[u].y), v[u].z * silu(gate[u].z),
                                 v[u].w * silu(gate[u].w));
            out[i] = v[u];
            sum = squares(v[u], sum);
          }
        }
      }
#pragma unroll
      for (int offset = 16; offset > 0; offset >>= 1) sum += __shfl_xor_sync(0xffffffffu, sum, offset);
      if (lane == 0) partial[warp][t * kMaxNormGroups + g] = sum;
    }
  }
  __syncthreads();
  for (int i = static_cast<int>(threadIdx.x); i < kTile * kMaxNormGroups; i += kThreads) {
    if (i % kMaxNormGroups >= p.groups) continue;
    float total = 0.0f;
#pragma unroll
    for (int w = 0; w < kWarps; ++w) total += partial[w][i];
    rstd[i] = 1.0f / sqrtf(total / static_cast<float>(p.group_size) + p.eps);
  }
  __syncthreads();
  const float4* norm = reinterpret_cast<const float4*>(p.norm);
#pragma unroll
  for (int t = 0; t < kTile; ++t) {
    const float4* z = p.z ? reinterpret_cast<const float4*>(p.z + clamp_below(m0 + t, a.m) * p.ldz) : nullptr;
    float4* out = reinterpret_cast<float4*>(normed + t * k);
    for (int64_t base = threadIdx.x; base < k / 4; base += kPrologueBatch * kThreads) {
      float4 w[kPrologueBatch], gate[kPrologueBatch];
#pragma unroll
      for (int u = 0; u < kPrologueBatch; ++u) {
        const int64_t i = base + u * kThreads;
        if (i < k / 4) {
          w[u] = __ldg(norm + i);
          if (gate_after) gate[u] = __ldg(z + i);
        }
      }
#pragma unroll
      for (int u = 0; u < kPrologueBatch; ++u) {
        const int64_t i = base + u * kThreads;
        if (i < k / 4) {
          const float r = rstd[t * kMaxNormGroups + static_cast<int>(4 * i / p.group_size)];
          float4 v = out[i];
          // The order of kernels/norm.h: v·rstd·w, then ·silu(z) after the norm.
          v = make_float4(v.x * r * w[u].x, v.y * r * w[u].y, v.z * r * w[u].z, v.w * r * w[u].w);
          if (gate_after)
            v = make_float4(v.x * silu(gate[u].x), v.y * silu(gate[u].y), v.z * silu(gate[u].z),
                            v.w * silu(gate[u].w));
          out[i] = v;
        }
      }
    }
  }
  __syncthreads();
}

// Chunks whose loads one thread keeps in flight together: the weight stream is latency-bound at these
// sizes (a thread has only a few chunks: 2.5 for a 2560-wide row, 5 for 5120), so all of them go out
// before the first is used and a thread waits for memory once or twice, not once per chunk. Fewer for
// large tiles, whose accumulators already take the registers.
template <int kKind, int kTile>
constexpr int unroll_for() {
  return kTile <= 2 ? 4 : 2;
}

template <int kKind, int kTile, bool kNorm>
__global__ void __launch_bounds__(kThreads) gemm_skinny_kernel(const SkinnyArgs a) {
  enter_kernel();  // launch.cuh: before any global memory access
  const int64_t block = blockIdx.x;
  const int64_t m0 = (block % a.m_tiles) * kTile;
  const int64_t n0 = (block / a.m_tiles) * kRows;

  const char* w_rows[kRows];
#pragma unroll
  for (int r = 0; r < kRows; ++r) w_rows[r] = a.weight + clamp_below(n0 + r, a.n) * a.ldw_bytes;
  const float* x_rows[kTile];
#pragma unroll
  for (int t = 0; t < kTile; ++t) x_rows[t] = a.x + clamp_below(m0 + t, a.m) * a.ldx;

  float acc[kRows][kTile];
#pragma unroll
  for (int r = 0; r < kRows; ++r)
#pragma unroll
    for (int t = 0; t < kTile; ++t) acc[r][t] = 0.0f;

  // Full chunks of aligned rows: 16-byte loads, up to kUnroll chunks in flight per thread (the last
  // group predicated, so a thread with 3 chunks still issues all 3 before using any).
  // With a norm prologue the first group's weight loads are issued before the prologue norms x into
  // shared memory (dynamic, kTile·K floats), from where the products then read it.
  constexpr int kUnroll = unroll_for<kKind, kTile>();
  const int64_t vector_chunks = a.w_vector && a.x_vector ? a.k / kChunk : 0;
  extern __shared__ float4 prologue_rows[];
  RawChunk<kKind> raw[kUnroll];
  const float* normed_rows[kTile];
  auto load_group = [&](int64_t c) {
#pragma unroll
    for (int u = 0; u < kUnroll; ++u)
      if (c + u * kThreads < vector_chunks) load_chunk<kKind>(w_rows, (c + u * kThreads) * kChunk, raw[u]);
  };
  auto use_group = [&](int64_t c) {
#pragma unroll
    for (int u = 0; u < kUnroll; ++u)
      if (c + u * kThreads < vector_chunks) {
        if constexpr (kNorm)
          multiply_chunk<kKind, kTile, true>(raw[u], normed_rows, (c + u * kThreads) * kChunk, acc);
        else
          multiply_chunk<kKind, kTile, false>(raw[u], x_rows, (c + u * kThreads) * kChunk, acc);
      }
  };
  load_group(threadIdx.x);
  if constexpr (kNorm) {
    float* normed = reinterpret_cast<float*>(prologue_rows);
#pragma unroll
    for (int t = 0; t < kTile; ++t) normed_rows[t] = normed + t * a.k;
    norm_prologue<kTile>(a, x_rows, m0, normed);
  }
  use_group(threadIdx.x);
  for (int64_t c = threadIdx.x + kUnroll * kThreads; c < vector_chunks; c += kUnroll * kThreads) {
    load_group(c);
    use_group(c);
  }
  // The rest one element at a time with bounds: the last partial chunk, or every chunk of unaligned rows.
  const int64_t chunks = (a.k + kChunk - 1) / kChunk;
  for (int64_t s = vector_chunks + threadIdx.x; s < chunks; s += kThreads) {
    const int64_t k0 = s * kChunk;
    float w[kRows][kChunk];
#pragma unroll
    for (int r = 0; r < kRows; ++r)
#pragma unroll
      for (int j = 0; j < kChunk; ++j) w[r][j] = k0 + j < a.k ? load_as_f32(w_rows[r], kKind, k0 + j) : 0.0f;
    multiply<kTile>(w, x_rows, k0, false, a.k, acc);
  }

  // Σ over the warp (every lane ends with the total), then over the warps in a fixed order.
  __shared__ float partial[kWarps][kRows * kTile];
  const int lane = static_cast<int>(threadIdx.x) % 32, warp = static_cast<int>(threadIdx.x) / 32;
#pragma unroll
  for (int r = 0; r < kRows; ++r)
#pragma unroll
    for (int t = 0; t < kTile; ++t) {
      float v = acc[r][t];
#pragma unroll
      for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(0xffffffffu, v, offset);
      if (lane == 0) partial[warp][r * kTile + t] = v;
    }
  __syncthreads();
  for (int i = static_cast<int>(threadIdx.x); i < kRows * kTile; i += kThreads) {
    const int64_t n = n0 + i / kTile, m = m0 + i % kTile;
    if (n >= a.n || m >= a.m) continue;
    float sum = 0.0f;
#pragma unroll
    for (int w = 0; w < kWarps; ++w) sum += partial[w][i];
    float* out = a.y + m * a.ldy + n;
    *out = ((a.accumulate ? *out : 0.0f) + bias_at(a.bias, a.bias_kind, a.bias_stride, n)) + sum;
  }
}

size_t prologue_bytes(const SkinnyArgs& a, int tile) { return static_cast<size_t>(tile * a.k) * sizeof(float); }

template <int kKind>
void launch_for_kind(const SkinnyArgs& a, int tile, unsigned blocks, cudaStream_t stream) {
  const bool norm = a.prologue.norm != nullptr;  // only with tiles of 1 and 2 (launch_gemm_skinny checks)
  switch (tile) {
    case 1:
      if (norm)
        launch_kernel(gemm_skinny_kernel<kKind, 1, true>, blocks, kThreads, prologue_bytes(a, 1), stream, a);
      else
        launch_kernel(gemm_skinny_kernel<kKind, 1, false>, blocks, kThreads, 0, stream, a);
      break;
    case 2:
      if (norm)
        launch_kernel(gemm_skinny_kernel<kKind, 2, true>, blocks, kThreads, prologue_bytes(a, 2), stream, a);
      else
        launch_kernel(gemm_skinny_kernel<kKind, 2, false>, blocks, kThreads, 0, stream, a);
      break;
    case 4:
      launch_kernel(gemm_skinny_kernel<kKind, 4, false>, blocks, kThreads, 0, stream, a);
      break;
    default:
      launch_kernel(gemm_skinny_kernel<kKind, kMaxTile, false>, blocks, kThreads, 0, stream, a);
      break;
  }
}

int kind_of(DType t) { return t == DType::f32 ? kF32 : t == DType::bf16 ? kBf16 : kF16; }

bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

}  // namespace

void launch_gemm_skinny(const GemmOperands& g, void* stream) {
  if (g.m <= 0 || g.n <= 0) return;
  SkinnyArgs a;
  a.x = g.x;
  a.ldx = g.ldx;
  a.weight = static_cast<const char*>(g.weight);
  a.ldw_bytes = g.ldw * static_cast<int64_t>(dtype_size(g.weight_dtype));
  a.y = g.y;
  a.ldy = g.ldy;
  a.bias = g.bias;
  a.bias_kind = kind_of(g.bias_dtype);
  a.bias_stride = g.bias_stride;
  a.m = g.m;
  a.n = g.n;
  a.k = g.k;
  a.accumulate = g.accumulate;
  // A lone row's stride is never used (every row index clamps to 0), so it does not decide alignment.
  a.w_vector = aligned16(a.weight) && (g.n == 1 || a.ldw_bytes % 16 == 0);
  a.x_vector = aligned16(a.x) && (g.m == 1 || (a.ldx * 4) % 16 == 0);
  a.prologue = g.prologue;  // its preconditions (skinny_prologue_fits, norm_gemm.cpp) hold
  // The smallest power-of-two tile holding all tokens, up to kMaxTile.
  const int tile = g.m == 1 ? 1 : g.m == 2 ? 2 : g.m <= 4 ? 4 : kMaxTile;
  a.m_tiles = (g.m + tile - 1) / tile;
  const int64_t blocks = a.m_tiles * ((g.n + kRows - 1) / kRows);
  const cudaStream_t s = static_cast<cudaStream_t>(stream);
  switch (kind_of(g.weight_dtype)) {
    case kF32:
      launch_for_kind<kF32>(a, tile, static_cast<unsigned>(blocks), s);
      break;
    case kBf16:
      launch_for_kind<kBf16>(a, tile, static_cast<unsigned>(blocks), s);
      break;
    default:
      launch_for_kind<kF16>(a, tile, static_cast<unsigned>(blocks), s);
      break;
  }
  strata::cuda::check_last_error("gemm: skinny kernel");
}

}  // namespace strata::kernels::cuda
