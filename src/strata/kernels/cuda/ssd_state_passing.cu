// Phase 3 of the CUDA SSD scan: per (sequence, head), the sequential pass over the sequence's chunk
// boundaries, S_in(k + 1) = exp(cs_last(k))·S_in(k) + ΔS_k. Elementwise in [P, N], so each thread owns one
// state element through every chunk: it loads the initial state from the slot (or zero), rewrites the
// sequence's entries in place (entry k: the state entering chunk k; the last: the final state) and stores
// the final state back to the slot in the pool's dtype.
#include "strata/core/cuda_context.h"
#include "strata/kernels/cuda/ssd_kernels.h"
#include "strata/kernels/cuda/ssd_tile.cuh"
#include "strata/kernels/cuda/launch.cuh"

namespace strata::kernels::cuda {

namespace {

using namespace ssd_detail;

constexpr int kPassThreads = 256;

// blockIdx: x = block of P·N elements, y = head, z = sequence.
__global__ void __launch_bounds__(kPassThreads) state_passing(SsdArgs args) {
  enter_kernel();  // launch.cuh: before any global memory access
  const int64_t head_elems = static_cast<int64_t>(args.head_dim) * args.state_size;
  const int64_t e = static_cast<int64_t>(blockIdx.x) * kPassThreads + threadIdx.x;
  if (e >= head_elems) return;
  const int h = static_cast<int>(blockIdx.y), i = static_cast<int>(blockIdx.z);
  const int first = args.first_chunk[i], last = args.first_chunk[i + 1];
  const int64_t slot_at = static_cast<int64_t>(args.slots[i]) * args.slot_stride + h * head_elems + e;

  float state = 0.0f;
  if (args.has_initial[i])
    state = args.pool_bf16 ? bf16_bits_to_f32(static_cast<const uint16_t*>(args.pool)[slot_at])
                           : static_cast<const float*>(args.pool)[slot_at];
  const int64_t entry_stride = static_cast<int64_t>(args.heads) * head_elems;
  float* entry = args.states + (static_cast<int64_t>(first + i) * args.heads + h) * head_elems + e;
  *entry = state;
  for (int chunk_index = first; chunk_index < last; ++chunk_index) {
    const int length = args.chunks[chunk_index].length;
    const float decay =
        args.decay[(static_cast<int64_t>(chunk_index) * args.heads + h) * args.chunk_size + length - 1];
    entry += entry_stride;
    state = state * decay + *entry;  // *entry holds ΔS of the chunk (phase 2) until now
    *entry = state;
  }
  if (args.pool_bf16)
    static_cast<uint16_t*>(args.pool)[slot_at] = f32_to_bf16_bits(state);
  else
    static_cast<float*>(args.pool)[slot_at] = state;
}

}  // namespace

void launch_ssd_state_passing(const SsdArgs& args, void* stream) {
  if (args.num_sequences == 0) return;
  const int64_t head_elems = static_cast<int64_t>(args.head_dim) * args.state_size;
  const dim3 grid(static_cast<unsigned>((head_elems + kPassThreads - 1) / kPassThreads),
                  static_cast<unsigned>(args.heads), static_cast<unsigned>(args.num_sequences));
  launch_kernel(state_passing, grid, kPassThreads, 0, static_cast<cudaStream_t>(stream), args);
  strata::cuda::check_last_error("ssd_scan: state passing");
}

}  // namespace strata::kernels::cuda
