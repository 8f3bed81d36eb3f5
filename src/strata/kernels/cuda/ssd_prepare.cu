// Phases 0 and 1 of the CUDA SSD scan: the chunk table (from the device cu_seqlens, so a captured or
// replayed step reads its own metadata) and, per (chunk, head), dt after bias / softplus / clamp, the
// inclusive cumsum of dt·A in double, and the decay and weight vectors the later phases read.
#include <cub/block/block_scan.cuh>

#include "strata/core/cuda_context.h"
#include "strata/kernels/cuda/ssd_kernels.h"
#include "strata/kernels/cuda/ssd_tile.cuh"
#include "strata/kernels/cuda/launch.cuh"

namespace strata::kernels::cuda {

namespace {

using ssd_detail::exp_nonpositive;

constexpr int kTableThreads = 256;

// One block. Sequences are taken kTableThreads at a time; a block scan of their chunk counts (plus the
// running carry) gives each sequence's first chunk, then each thread writes its sequence's chunks.
__global__ void __launch_bounds__(kTableThreads) build_chunk_table(SsdArgs args) {
  enter_kernel();  // launch.cuh: before any global memory access
  using Scan = cub::BlockScan<int, kTableThreads>;
  __shared__ typename Scan::TempStorage scan_storage;
  __shared__ int carry;
  if (threadIdx.x == 0) carry = 0;
  __syncthreads();
  const int q = args.chunk_size;
  for (int base = 0; base < args.num_sequences; base += kTableThreads) {
    const int i = base + static_cast<int>(threadIdx.x);
    int64_t begin = 0, length = 0;
    int count = 0;
    if (i < args.num_sequences) {
      begin = args.cu_seqlens[i] - args.row_offset;
      length = args.cu_seqlens[i + 1] - args.cu_seqlens[i];
      count = static_cast<int>((length + q - 1) / q);
    }
    int first = 0, total = 0;
    Scan(scan_storage).ExclusiveSum(count, first, total);
    first += carry;
    if (i < args.num_sequences) {
      args.first_chunk[i] = first;
      const int zero_state = args.has_initial[i] ? 0 : 1;
      for (int k = 0; k < count; ++k) {
        SsdChunk chunk;
        chunk.begin = begin + static_cast<int64_t>(k) * q;
        chunk.length = static_cast<int>(min(static_cast<int64_t>(q), length - static_cast<int64_t>(k) * q));
        chunk.sequence = i;
        chunk.entry = first + k + i;  // sequence i's entries start after i earlier final states
        chunk.zero_state = k == 0 ? zero_state : 0;
        args.chunks[first + k] = chunk;
      }
    }
    __syncthreads();  // every thread has read carry, and scan_storage may be reused
    if (threadIdx.x == 0) carry += total;
    __syncthreads();
  }
  if (threadIdx.x == 0) args.first_chunk[args.num_sequences] = carry;
}

constexpr int kDtWarps = 8;

__device__ __forceinline__ float discretize(float raw, float bias, const SsdArgs& args) {
  float v = raw + bias;
  if (args.dt_softplus) v = v > 20.0f ? v : log1pf(expf(v));  // torch's softplus threshold
  return fminf(fmaxf(v, args.dt_min), args.dt_max);
}

// One warp per (chunk, head): 32 tokens at a time, an inclusive warp scan of dt·A in double plus the carry.
// Double because the cumsum reaches −2500 over a 256-token chunk, where a float's ulp (2.4e-4) would be the
// error of every decay exp(cs_t − cs_s) taken as a difference of two sums (the CPU does the same).
__global__ void __launch_bounds__(kDtWarps * 32) chunk_dt(SsdArgs args) {
  enter_kernel();  // launch.cuh: before any global memory access
  const int lane = static_cast<int>(threadIdx.x) % 32;
  const int h = static_cast<int>(blockIdx.y) * kDtWarps + static_cast<int>(threadIdx.x) / 32;
  if (h >= args.heads) return;  // whole warps only; no block-wide synchronisation below
  const int chunk_index = static_cast<int>(blockIdx.x);
  if (chunk_index >= args.first_chunk[args.num_sequences]) return;  // host and device counts agree; guard
  const SsdChunk chunk = args.chunks[chunk_index];
  const float a = args.a[h], bias = args.dt_bias[h];
  const int64_t base = (static_cast<int64_t>(chunk_index) * args.heads + h) * args.chunk_size;
  double carry = 0.0;
  for (int s0 = 0; s0 < chunk.length; s0 += 32) {
    const int s = s0 + lane;
    float v = 0.0f;
    double sum = 0.0;
    if (s < chunk.length) {
      v = discretize(args.dt[(chunk.begin + s) * args.lddt + h], bias, args);
      sum = static_cast<double>(v * a);
    }
#pragma unroll
    for (int offset = 1; offset < 32; offset <<= 1) {
      const double other = __shfl_up_sync(0xffffffffu, sum, offset);
      if (lane >= offset) sum += other;
    }
    sum += carry;
    if (s < chunk.length) {
      args.dt_out[base + s] = v;
      args.cumsum[base + s] = sum;
      args.decay[base + s] = exp_nonpositive(static_cast<float>(sum));
    }
    carry = __shfl_sync(0xffffffffu, sum, 31);
  }
  // carry is now cs_last. Each lane reads back only what it wrote itself above, so no barrier is needed.
  for (int s = lane; s < chunk.length; s += 32)
    args.weight[base + s] = exp_nonpositive(static_cast<float>(carry - args.cumsum[base + s])) * args.dt_out[base + s];
}

}  // namespace

void launch_ssd_prepare(const SsdArgs& args, void* stream) {
  const auto s = static_cast<cudaStream_t>(stream);
  launch_kernel(build_chunk_table, 1, kTableThreads, 0, s, args);
  strata::cuda::check_last_error("ssd_scan: chunk table");
  if (args.num_chunks == 0) return;
  const dim3 grid(static_cast<unsigned>(args.num_chunks), static_cast<unsigned>((args.heads + kDtWarps - 1) / kDtWarps));
  launch_kernel(chunk_dt, grid, kDtWarps * 32, 0, s, args);
  strata::cuda::check_last_error("ssd_scan: dt and cumsum");
}

}  // namespace strata::kernels::cuda
