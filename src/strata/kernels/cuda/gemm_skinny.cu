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
// A fused RMSNorm (gemm_launch.h's FusedNorm) scales x's values by the norm weight (and gate) as they load
// and sums their squares with the products; the row's rstd multiplies each output at the end.
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
  FusedNorm norm;
  ConvEpilogue conv;
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

// acc[r][t] += Σ_j w[r][j] · x[t][k0 + j] over 8 weights per row and the matching x values.
template <int kTile>
__device__ __forceinline__ void multiply(const float (&w)[kRows][kChunk], const float* const (&x_rows)[kTile],
                                         int64_t k0, bool x_vector, int64_t k, float (&acc)[kRows][kTile]) {
#pragma unroll
  for (int t = 0; t < kTile; ++t) {
    float xv[kChunk];
    if (x_vector) {
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

// One aligned chunk of weight rows against x; with kNorm (gemm_launch.h's FusedNorm) x's values become
// v·norm (·silu(z) with gate_after) and squares[t] gathers Σ v² for the row's rstd.
template <int kKind, int kTile, bool kNorm>
__device__ __forceinline__ void multiply_chunk(const RawChunk<kKind>& c, const float* const (&x_rows)[kTile],
                                               const float* const (&z_rows)[kTile], const FusedNorm& norm,
                                               int64_t k0, float (&acc)[kRows][kTile], float (&squares)[kTile]) {
  float w[kRows][kChunk];
#pragma unroll
  for (int r = 0; r < kRows; ++r) widen<kKind>(c, r, w[r]);
  if constexpr (!kNorm) {
    multiply<kTile>(w, x_rows, k0, true, k0 + kChunk, acc);
  } else {
    float scale[kChunk];
    load8(norm.norm + k0, scale);
#pragma unroll
    for (int t = 0; t < kTile; ++t) {
      float xv[kChunk];
      load8(x_rows[t] + k0, xv);
      if (norm.z != nullptr) {
        float zv[kChunk];
        load8(z_rows[t] + k0, zv);
#pragma unroll
        for (int j = 0; j < kChunk; ++j) {
          const float gate = silu(zv[j]);
          if (norm.gate_after) {
            squares[t] = fmaf(xv[j], xv[j], squares[t]);
            xv[j] = xv[j] * scale[j] * gate;
          } else {
            xv[j] = xv[j] * gate;
            squares[t] = fmaf(xv[j], xv[j], squares[t]);
            xv[j] = xv[j] * scale[j];
          }
        }
      } else {
#pragma unroll
        for (int j = 0; j < kChunk; ++j) {
          squares[t] = fmaf(xv[j], xv[j], squares[t]);
          xv[j] = xv[j] * scale[j];
        }
      }
#pragma unroll
      for (int r = 0; r < kRows; ++r)
#pragma unroll
        for (int j = 0; j < kChunk; ++j) acc[r][t] = fmaf(w[r][j], xv[j], acc[r][t]);
    }
  }
}

// The conv of channel c for token (and sequence) m, its input `current` just computed (ConvEpilogue).
__device__ __forceinline__ void conv_epilogue(const ConvEpilogue& e, int64_t m, int64_t c, float current) {
  constexpr int kMaxWindow = 7;
  float* out = e.out + m * e.out_stride + c;
  const int64_t slot = e.slots[m];
  if (slot < 0) {
    *out = 0.0f;
    return;
  }
  float* state = e.state + slot * e.state_slot_stride + c;
  const float* w = e.weight + c * e.weight_stride;
  const bool initial = e.has_initial[m] != 0;
  const int taps = e.width - 1;
  float window[kMaxWindow];
#pragma unroll
  for (int r = 0; r < kMaxWindow; ++r) window[r] = r < taps && initial ? state[r * e.state_row_stride] : 0.0f;
  float acc = e.bias != nullptr ? e.bias[c] : 0.0f;
#pragma unroll
  for (int r = 0; r < kMaxWindow; ++r)
    if (r < taps) acc = fmaf(w[r], window[r], acc);
  acc = fmaf(w[taps], current, acc);
  *out = e.silu ? silu(acc) : acc;
#pragma unroll
  for (int r = 0; r < kMaxWindow; ++r)
    if (r < taps) state[r * e.state_row_stride] = r + 1 < taps ? window[r + 1] : current;
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
  // launch.cuh: the first group of weight loads goes out before waiting for the kernel before this one
  // (weights are never written by a kernel); x, the norm's inputs and y only after.
  start_dependents();
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
  constexpr int kUnroll = unroll_for<kKind, kTile>();
  const int64_t vector_chunks = a.w_vector && a.x_vector ? a.k / kChunk : 0;
  const float* z_rows[kTile];
#pragma unroll
  for (int t = 0; t < kTile; ++t) z_rows[t] = kNorm && a.norm.z ? a.norm.z + clamp_below(m0 + t, a.m) * a.norm.ldz : nullptr;
  float squares[kTile];  // Σ v² of this thread's chunks (kNorm)
#pragma unroll
  for (int t = 0; t < kTile; ++t) squares[t] = 0.0f;
  RawChunk<kKind> raw[kUnroll];
  auto load_group = [&](int64_t c) {
#pragma unroll
    for (int u = 0; u < kUnroll; ++u)
      if (c + u * kThreads < vector_chunks) load_chunk<kKind>(w_rows, (c + u * kThreads) * kChunk, raw[u]);
  };
  auto use_group = [&](int64_t c) {
#pragma unroll
    for (int u = 0; u < kUnroll; ++u)
      if (c + u * kThreads < vector_chunks)
        multiply_chunk<kKind, kTile, kNorm>(raw[u], x_rows, z_rows, a.norm, (c + u * kThreads) * kChunk, acc,
                                            squares);
  };
  load_group(threadIdx.x);
  // Rows longer than one group of chunks per thread (K > 4096 for 16-bit weights): the rest of the block's
  // weight lines are warmed in L2 too, one 128-byte line per thread and row.
  {
    constexpr int64_t kElementBytes = RawChunk<kKind>::kElementBytes;
    const int64_t row_bytes = vector_chunks * kChunk * kElementBytes;
    for (int64_t offset = kUnroll * kThreads * kChunk * kElementBytes + threadIdx.x * 128; offset < row_bytes;
         offset += kThreads * 128)
#pragma unroll
      for (int r = 0; r < kRows; ++r) asm volatile("prefetch.global.L2 [%0];" ::"l"(w_rows[r] + offset));
  }
  wait_for_predecessors();
  use_group(threadIdx.x);
  for (int64_t c = threadIdx.x + kUnroll * kThreads; c < vector_chunks; c += kUnroll * kThreads) {
    load_group(c);
    use_group(c);
  }
  // The rest one element at a time with bounds: the last partial chunk, or every chunk of unaligned rows
  // (never with kNorm, whose operands are aligned with k a multiple of 8).
  const int64_t chunks = kNorm ? 0 : (a.k + kChunk - 1) / kChunk;
  for (int64_t s = vector_chunks + threadIdx.x; s < chunks; s += kThreads) {
    const int64_t k0 = s * kChunk;
    float w[kRows][kChunk];
#pragma unroll
    for (int r = 0; r < kRows; ++r)
#pragma unroll
      for (int j = 0; j < kChunk; ++j) w[r][j] = k0 + j < a.k ? load_as_f32(w_rows[r], kKind, k0 + j) : 0.0f;
    multiply<kTile>(w, x_rows, k0, false, a.k, acc);
  }

  // Σ over the warp (every lane ends with the total), then over the warps in a fixed order; with kNorm
  // the squares reduce the same way, after the products.
  constexpr int kSums = kRows * kTile + (kNorm ? kTile : 0);
  __shared__ float partial[kWarps][kSums];
  const int lane = static_cast<int>(threadIdx.x) % 32, warp = static_cast<int>(threadIdx.x) / 32;
#pragma unroll
  for (int i = 0; i < kSums; ++i) {
    float v = i < kRows * kTile ? acc[i / kTile][i % kTile] : squares[(i - kRows * kTile) % kTile];
#pragma unroll
    for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(0xffffffffu, v, offset);
    if (lane == 0) partial[warp][i] = v;
  }
  __syncthreads();
  for (int i = static_cast<int>(threadIdx.x); i < kRows * kTile; i += kThreads) {
    const int64_t n = n0 + i / kTile, m = m0 + i % kTile;
    if (n >= a.n || m >= a.m) continue;
    float sum = 0.0f;
#pragma unroll
    for (int w = 0; w < kWarps; ++w) sum += partial[w][i];
    if constexpr (kNorm) {
      float total = 0.0f;
#pragma unroll
      for (int w = 0; w < kWarps; ++w) total += partial[w][kRows * kTile + i % kTile];
      sum *= 1.0f / sqrtf(total / static_cast<float>(a.k) + a.norm.eps);  // kernels/norm.h's rstd
    }
    float* out = a.y + m * a.ldy + n;
    const float value = ((a.accumulate ? *out : 0.0f) + bias_at(a.bias, a.bias_kind, a.bias_stride, n)) + sum;
    if (a.conv.channels > 0 && n >= a.conv.col0 && n < a.conv.col0 + a.conv.channels)
      conv_epilogue(a.conv, m, n - a.conv.col0, value);
    else
      *out = value;
  }
}

template <int kKind>
void launch_for_kind(const SkinnyArgs& a, int tile, unsigned blocks, cudaStream_t stream) {
  const bool norm = a.norm.norm != nullptr;  // only with tiles of 1 and 2 (launch_gemm_skinny checks)
  switch (tile) {
    case 1:
      if (norm)
        launch_kernel(gemm_skinny_kernel<kKind, 1, true>, blocks, kThreads, 0, stream, a);
      else
        launch_kernel(gemm_skinny_kernel<kKind, 1, false>, blocks, kThreads, 0, stream, a);
      break;
    case 2:
      if (norm)
        launch_kernel(gemm_skinny_kernel<kKind, 2, true>, blocks, kThreads, 0, stream, a);
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
  a.norm = g.norm;  // its preconditions (set_norm in gemm.cpp) hold
  a.conv = g.conv;
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
