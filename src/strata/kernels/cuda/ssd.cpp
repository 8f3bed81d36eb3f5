// The CUDA SSD scan's host side: carves the caller's workspace (ssd_layout.h), flattens the operands
// into SsdArgs and launches the phases in order on the Exec's stream; captures are device-to-device
// copies of the state entries the pass leaves behind. Host C++ (fmt's consteval checks need g++, not
// nvcc), built only with the backend, like the .cu files it launches.
#include "strata/kernels/cuda/ssd.h"

#if STRATA_HAVE_CUDA

#include <cstdint>

#include "strata/core/cuda_context.h"
#include "strata/core/cuda_runtime.h"
#include "strata/core/error.h"
#include "strata/kernels/cuda/ssd_kernels.h"

namespace strata::kernels::cuda {

namespace {

int64_t chunks_of(int64_t length, int64_t q) { return (length + q - 1) / q; }

// Sequence i's first state entry: every earlier sequence owns its chunks' entries plus its final state.
int64_t first_entry(const VarlenBatch& batch, int64_t sequence, int64_t q) {
  int64_t entry = sequence;
  for (int64_t j = 0; j < sequence; ++j) entry += chunks_of(batch.length(j), q);
  return entry;
}

}  // namespace

void ssd_scan(const SsdParams& params, const SsdInputs& inputs, const VarlenBatch& batch, Tensor ssm_states,
              Tensor y, std::span<const SsdCapture> captures, void* workspace, size_t workspace_bytes,
              const Exec& exec) {
  const int64_t num_sequences = batch.num_sequences();
  if (num_sequences == 0) return;
  const int64_t q = params.chunk_size;
  const SsdLayout layout = plan_ssd(params, batch.num_tokens(), num_sequences);
  if (workspace == nullptr || workspace_bytes < layout.total)
    fail("ssd_scan: CUDA workspace of {} bytes is too small; ssd_workspace_bytes(..., Device::cuda) gives {} "
         "for {} tokens and {} sequences",
         workspace_bytes, layout.total, batch.num_tokens(), num_sequences);
  const VarlenDevice& device = batch.device;
  if (device.cu_seqlens == nullptr || device.slots == nullptr || device.has_initial_state == nullptr)
    fail("ssd_scan: a CUDA call needs the batch's cu_seqlens, slots and has_initial_state on the device "
         "(VarlenBatch::device)");

  int64_t num_chunks = 0;
  for (int64_t i = 0; i < num_sequences; ++i) num_chunks += chunks_of(batch.length(i), q);

  const uintptr_t raw = reinterpret_cast<uintptr_t>(workspace);
  char* base = reinterpret_cast<char*>((raw + kSsdAlign - 1) / kSsdAlign * kSsdAlign);
  SsdArgs args;
  args.heads = static_cast<int>(params.n_heads);
  args.head_dim = static_cast<int>(params.head_dim);
  args.state_size = static_cast<int>(params.state_size);
  args.groups = static_cast<int>(params.n_groups);
  args.chunk_size = static_cast<int>(q);
  args.dt_min = params.dt_min;
  args.dt_max = params.dt_max;
  args.dt_softplus = params.dt_softplus;
  args.bf16_products = params.bf16_products;
  args.x = inputs.x.ptr<const float>();
  args.dt = inputs.dt.ptr<const float>();
  args.b = inputs.B.ptr<const float>();
  args.c = inputs.C.ptr<const float>();
  args.a = inputs.A.ptr<const float>();
  args.d = inputs.D.ptr<const float>();
  args.dt_bias = inputs.dt_bias.ptr<const float>();
  args.ldx = inputs.x.stride(0);
  args.lddt = inputs.dt.stride(0);
  args.ldb = inputs.B.stride(0);
  args.ldc = inputs.C.stride(0);
  args.y = y.ptr<float>();
  args.ldy = y.stride(0);
  args.pool = ssm_states.data;
  args.pool_bf16 = ssm_states.dtype == DType::bf16;
  args.slot_stride = ssm_states.stride(0);
  args.cu_seqlens = device.cu_seqlens;
  args.slots = device.slots;
  args.has_initial = device.has_initial_state;
  args.row_offset = device.row_offset;
  args.num_sequences = static_cast<int>(num_sequences);
  args.num_chunks = static_cast<int>(num_chunks);
  args.chunks = reinterpret_cast<SsdChunk*>(base + layout.chunks);
  args.first_chunk = reinterpret_cast<int32_t*>(base + layout.first_chunk);
  args.dt_out = reinterpret_cast<float*>(base + layout.dt);
  args.cumsum = reinterpret_cast<double*>(base + layout.cumsum);
  args.decay = reinterpret_cast<float*>(base + layout.decay);
  args.weight = reinterpret_cast<float*>(base + layout.weight);
  args.cb = reinterpret_cast<float*>(base + layout.cb);
  args.states = reinterpret_cast<float*>(base + layout.states);

  void* stream = exec.cuda().stream();
  launch_ssd_prepare(args, stream);
  launch_ssd_chunk_cb(args, stream);
  launch_ssd_chunk_state(args, stream);
  launch_ssd_state_passing(args, stream);
  launch_ssd_chunk_scan(args, stream);

  // The state after `offset` tokens of sequence i is its entry offset / Q (offset 0: the initial state,
  // offset = length: the final one), already [H, P, N] f32 like the destination.
  const int64_t state_elems = params.n_heads * params.head_dim * params.state_size;
  for (const SsdCapture& capture : captures) {
    const int64_t entry = first_entry(batch, capture.sequence, q) + capture.offset / q;
    strata::cuda::copy_async(capture.state.data, args.states + entry * state_elems,
                             static_cast<size_t>(state_elems) * sizeof(float), stream);
  }
}

}  // namespace strata::kernels::cuda

#endif  // STRATA_HAVE_CUDA
