// The MoE counting sort on CUDA: one block per expert, no cross-block dependency and no atomics, so the
// result is deterministic and equals the CPU's (cpu/moe_gather.cpp) exactly. Block e
//   1. counts the slots whose expert is below e: that is expert_start[e] (block E-1 also writes
//      expert_start[E] = T·k);
//   2. walks the slots in order, a chunk of kThreads at a time, and gives each of its own slots the row
//      expert_start[e] + (its slots in earlier chunks) + (its slots earlier in this chunk, from a warp
//      ballot and the warps' counts), so within an expert rows follow slot order: ascending token.
// Every block reads all T·k ids twice (from L2 after the first); for a step's T·k of at most a few
// hundred thousand that is cheaper than a multi-kernel scan with its launches.
#include "strata/kernels/cuda/moe.h"

#include <cuda_runtime.h>

#include <cstdint>

#include "strata/core/cuda_context.h"
#include "strata/kernels/cuda/launch.cuh"

namespace strata::kernels::cuda {
namespace {

constexpr int kThreads = 256;
constexpr int kWarps = kThreads / 32;
constexpr unsigned kFullMask = 0xffffffffu;

struct GroupArgs {
  const int32_t* slot_expert = nullptr;  // [T·k], contiguous
  int64_t n_slots = 0, top_k = 1;
  int n_experts = 0;
  int64_t* expert_start = nullptr;  // [E + 1]
  int64_t* row_token = nullptr;     // [T·k]
  int64_t* slot_row = nullptr;      // [T·k]
};

// Σ over the block; every thread gets the total.
__device__ int64_t block_sum(int64_t v) {
  __shared__ int64_t warp_sums[kWarps];
#pragma unroll
  for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(kFullMask, v, offset);
  if (threadIdx.x % 32 == 0) warp_sums[threadIdx.x / 32] = v;
  __syncthreads();
  int64_t total = 0;
#pragma unroll
  for (int w = 0; w < kWarps; ++w) total += warp_sums[w];
  return total;
}

__global__ void __launch_bounds__(kThreads) group_by_expert_kernel(GroupArgs a) {
  enter_kernel();  // launch.cuh: before any global memory access
  const int e = static_cast<int>(blockIdx.x);
  const int tid = static_cast<int>(threadIdx.x), lane = tid % 32, warp = tid / 32;

  int64_t below = 0;
  for (int64_t s = tid; s < a.n_slots; s += kThreads) below += a.slot_expert[s] < e ? 1 : 0;
  const int64_t begin = block_sum(below);
  if (tid == 0) {
    a.expert_start[e] = begin;
    if (e == a.n_experts - 1) a.expert_start[a.n_experts] = a.n_slots;
  }

  __shared__ int chunk_counts[kWarps];
  int64_t placed = 0;  // this expert's slots in earlier chunks
  for (int64_t base = 0; base < a.n_slots; base += kThreads) {  // uniform trip count: barriers are safe
    const int64_t s = base + tid;
    const bool mine = s < a.n_slots && a.slot_expert[s] == e;
    const unsigned ballot = __ballot_sync(kFullMask, mine);
    if (lane == 0) chunk_counts[warp] = __popc(ballot);
    __syncthreads();
    int earlier_warps = 0, chunk_total = 0;
#pragma unroll
    for (int w = 0; w < kWarps; ++w) {
      const int count = chunk_counts[w];
      earlier_warps += w < warp ? count : 0;
      chunk_total += count;
    }
    if (mine) {
      const int earlier_lanes = __popc(ballot & ((1u << lane) - 1u));
      const int64_t row = begin + placed + earlier_warps + earlier_lanes;
      a.row_token[row] = s / a.top_k;
      a.slot_row[s] = row;
    }
    placed += chunk_total;
    __syncthreads();  // every warp has read chunk_counts before the next chunk rewrites it
  }
}

}  // namespace

void moe_group_by_expert(const Tensor& expert_ids, int64_t n_experts, const MoeGrouping& grouping,
                         const Exec& exec) {
  GroupArgs a;
  a.slot_expert = expert_ids.ptr<const int32_t>();
  a.n_slots = expert_ids.numel();
  a.top_k = expert_ids.size(1);
  a.n_experts = static_cast<int>(n_experts);
  a.expert_start = grouping.expert_start.ptr<int64_t>();
  a.row_token = grouping.row_token.ptr<int64_t>();
  a.slot_row = grouping.slot_row.ptr<int64_t>();
  if (n_experts <= 0) return;
  // Launched for zero slots too: expert_start must still become all zeros.
  launch_kernel(group_by_expert_kernel, static_cast<unsigned>(n_experts), kThreads, 0,
                           static_cast<cudaStream_t>(exec.cuda().stream()), a);
  strata::cuda::check_last_error("moe_group_by_expert");
}

}  // namespace strata::kernels::cuda
