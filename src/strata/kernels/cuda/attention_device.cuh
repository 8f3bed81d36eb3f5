// Device helpers the paged-attention kernels share: a sequence's metadata read from the device mirrors,
// the visible window of a position, bf16 <-> f32 exactly like strata::bf16_to_f32 / f32_to_bf16, and
// copying a run of paged KV positions of one kv head into a shared-memory tile (cp.async when aligned).
#pragma once

#include <cuda_runtime.h>

#include <atomic>
#include <cstdint>
#include <limits>

#include "strata/core/cuda_runtime.h"

#include "strata/kernels/cuda/attention_args.h"

namespace strata::kernels::cuda::attention_detail {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

__host__ __device__ constexpr int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

struct Sequence {
  int64_t begin = 0;   // first row of the call
  int64_t length = 0;  // new tokens
  int64_t start = 0;   // tokens already cached; token j sits at position start + j
  int32_t slot = -1;
};

__device__ __forceinline__ Sequence read_sequence(const AttentionArgs& a, int64_t i) {
  Sequence s;
  const int64_t first = a.cu_seqlens[i];
  s.begin = first - a.row_offset;
  s.length = a.cu_seqlens[i + 1] - first;
  s.start = a.start_positions[i];
  s.slot = a.slots[i];
  return s;
}

// The lowest position a token at `position` sees.
__device__ __forceinline__ int64_t lowest_visible(int64_t position, int64_t window) {
  const int64_t low = position - window + 1;
  return window > 0 && low > 0 ? low : int64_t{0};
}

// ---- element conversions -------------------------------------------------------------------------

__device__ __forceinline__ float bf16_bits_to_float(uint32_t bits) { return __uint_as_float(bits << 16); }

__device__ __forceinline__ float to_float(float v) { return v; }
__device__ __forceinline__ float to_float(uint16_t v) { return bf16_bits_to_float(v); }

// Round to nearest even, NaN kept quiet: bit for bit strata::f32_to_bf16, so both backends store alike.
__device__ __forceinline__ uint16_t float_to_bf16_bits(float f) {
  uint32_t u = __float_as_uint(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x40u);
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<uint16_t>(u >> 16);
}

__device__ __forceinline__ void store_element(float* p, float v) { *p = v; }
__device__ __forceinline__ void store_element(uint16_t* p, float v) { *p = float_to_bf16_bits(v); }

// Elements in one 16-byte vector of a tile row; tiles pad rows to a multiple of it.
template <typename KvT>
constexpr int kVec = static_cast<int>(16 / sizeof(KvT));

// Shared-memory row stride of a KV tile for head_dim capacity HD: 16 extra bytes keep 16-byte rows
// aligned and put 8 consecutive rows on 8 distinct 4-bank groups (conflict-free vector reads).
template <typename KvT, int HD>
constexpr int kTileStride = HD + kVec<KvT>;

// x[0..VEC) = the tile row's elements [d, d + VEC) as f32 (16-byte aligned read).
__device__ __forceinline__ void load_vector(const float* p, float (&x)[4]) {
  const float4 v = *reinterpret_cast<const float4*>(p);
  x[0] = v.x; x[1] = v.y; x[2] = v.z; x[3] = v.w;
}
__device__ __forceinline__ void load_vector(const uint16_t* p, float (&x)[8]) {
  const uint4 v = *reinterpret_cast<const uint4*>(p);
  // Little endian: the low half of each word is the earlier element.
  x[0] = bf16_bits_to_float(v.x & 0xffffu); x[1] = __uint_as_float(v.x & 0xffff0000u);
  x[2] = bf16_bits_to_float(v.y & 0xffffu); x[3] = __uint_as_float(v.y & 0xffff0000u);
  x[4] = bf16_bits_to_float(v.z & 0xffffu); x[5] = __uint_as_float(v.z & 0xffff0000u);
  x[6] = bf16_bits_to_float(v.w & 0xffffu); x[7] = __uint_as_float(v.w & 0xffff0000u);
}
// Four consecutive tile elements [d, d + 4) as f32 (d a multiple of 4).
__device__ __forceinline__ float4 load4(const float* p) { return *reinterpret_cast<const float4*>(p); }
__device__ __forceinline__ float4 load4(const uint16_t* p) {
  const uint2 v = *reinterpret_cast<const uint2*>(p);
  return make_float4(bf16_bits_to_float(v.x & 0xffffu), __uint_as_float(v.x & 0xffff0000u),
                     bf16_bits_to_float(v.y & 0xffffu), __uint_as_float(v.y & 0xffff0000u));
}

// ---- asynchronous global -> shared copies ---------------------------------------------------------

__device__ __forceinline__ void copy16_async(void* shared, const void* global) {
  const unsigned address = static_cast<unsigned>(__cvta_generic_to_shared(shared));
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(address), "l"(global));
}
__device__ __forceinline__ void wait_async_copies() {
  asm volatile("cp.async.commit_group;\n" ::);
  asm volatile("cp.async.wait_all;\n" ::: "memory");
}

// Head-dim columns a tile row holds: head_dim rounded up to the vector width (the tail is zero).
template <typename KvT>
__device__ __forceinline__ int padded_head_dim(int head_dim) {
  return (head_dim + kVec<KvT> - 1) / kVec<KvT> * kVec<KvT>;
}

// Issues the copy of positions [first, first + count) of kv head `kv_head` of one slot (`table`, its
// block-table row) from `pool` into tile rows 0..count-1 (row stride `stride` elements). Rows past
// `count` are left as they are: callers mask those keys. Columns [head_dim, padded) are zeroed so
// vector dot products over the padding add nothing. The caller waits with finish_tile().
// Every thread of the block calls it; warps take rows, lanes take 16-byte pieces of a row.
template <typename KvT>
__device__ __forceinline__ void start_tile(KvT* tile, int stride, const KvT* pool, const int32_t* table,
                                           const AttentionArgs& a, int kv_head, int64_t first, int count) {
  const int warp = static_cast<int>(threadIdx.x) / 32, lane = static_cast<int>(threadIdx.x) % 32;
  const int warps = static_cast<int>(blockDim.x) / 32;
  const int hd = a.head_dim;
  const int64_t position_stride = static_cast<int64_t>(a.n_kv_heads) * hd;
  // Lane x finds the pool offset of row warp + x * warps once; the row loop broadcasts it.
  const int rows_per_warp = static_cast<int>(ceil_div(count, warps));  // <= 32 (tiles are <= 32 * warps)
  int64_t my_offset = 0;
  {
    const int row = warp + lane * warps;
    if (lane < rows_per_warp && row < count) {
      const int64_t position = first + row;
      const int64_t block = table[position / a.block_size];
      my_offset = (block * a.block_size + position % a.block_size) * position_stride +
                  static_cast<int64_t>(kv_head) * hd;
    }
  }
  const int padded = padded_head_dim<KvT>(hd);
  for (int x = 0; x < rows_per_warp; ++x) {
    const int row = warp + x * warps;
    const int64_t offset = __shfl_sync(0xffffffffu, my_offset, x);
    if (row >= count) break;  // warp-uniform
    KvT* dst = tile + static_cast<int64_t>(row) * stride;
    const KvT* src = pool + offset;
    if (a.pool_vector) {
      for (int piece = lane; piece < hd / kVec<KvT>; piece += 32)
        copy16_async(dst + piece * kVec<KvT>, src + piece * kVec<KvT>);
    } else {
      for (int c = lane; c < padded; c += 32) dst[c] = c < hd ? src[c] : KvT(0);
    }
  }
}

// Waits for this thread's tile copies; the caller's __syncthreads() then publishes the whole tile.
__device__ __forceinline__ void finish_tile() { wait_async_copies(); }

// ---- warp reductions ------------------------------------------------------------------------------

template <int kLanes>
__device__ __forceinline__ float group_max(float v) {
#pragma unroll
  for (int offset = kLanes / 2; offset > 0; offset /= 2) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, offset));
  return v;
}
template <int kLanes>
__device__ __forceinline__ float group_sum(float v) {
#pragma unroll
  for (int offset = kLanes / 2; offset > 0; offset /= 2) v += __shfl_xor_sync(0xffffffffu, v, offset);
  return v;
}

// ---- launch configuration -------------------------------------------------------------------------

// Opts `kernel` into `bytes` of dynamic shared memory (needed above 48 KiB) once per device, so a
// step captured into a CUDA graph after an eager run makes no such call while capturing.
template <typename Kernel>
void allow_shared_memory(Kernel kernel, size_t bytes, std::atomic<uint64_t>& devices_done) {
  int device = 0;
  if (cudaGetDevice(&device) != cudaSuccess) strata::cuda::check_last_error("paged_attention (cudaGetDevice)");
  const uint64_t bit = uint64_t{1} << (device & 63);
  if ((devices_done.load(std::memory_order_acquire) & bit) != 0) return;
  if (cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(bytes)) != cudaSuccess)
    strata::cuda::check_last_error("paged_attention (dynamic shared memory)");
  devices_done.fetch_or(bit, std::memory_order_acq_rel);
}

}  // namespace strata::kernels::cuda::attention_detail
