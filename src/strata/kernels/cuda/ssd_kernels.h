// The CUDA SSD scan's phases as launchers, for ssd.cu to run in order on one stream: the chunk table and
// dt / cumsum (ssd_prepare.cu), C·Bᵀ and y (ssd_chunk_scan.cu), each chunk's own state (ssd_chunk_state.cu),
// the sequential pass over chunk boundaries (ssd_state_passing.cu). Plain C++; SsdArgs is passed by value.
#pragma once

#include <cstdint>

#include "strata/kernels/cuda/ssd_layout.h"

namespace strata::kernels::cuda {

// Everything the kernels read and write, flattened to device pointers and strides (in elements).
struct SsdArgs {
  int heads = 0, head_dim = 0, state_size = 0, groups = 0, chunk_size = 0;
  float dt_min = 0.0f, dt_max = 0.0f;
  bool dt_softplus = true;
  bool bf16_products = false;  // SsdParams::bf16_products: the three products on the tensor cores

  const float *x = nullptr, *dt = nullptr, *b = nullptr, *c = nullptr;
  const float *a = nullptr, *d = nullptr, *dt_bias = nullptr;
  int64_t ldx = 0, lddt = 0, ldb = 0, ldc = 0;
  float* y = nullptr;
  int64_t ldy = 0;
  void* pool = nullptr;  // ssm_states [slots, H, P, N], f32 or bf16
  bool pool_bf16 = false;
  int64_t slot_stride = 0;

  // Batch metadata on the device; rows are cu_seqlens[i] − row_offset.
  const int64_t* cu_seqlens = nullptr;
  const int32_t* slots = nullptr;
  const uint8_t* has_initial = nullptr;
  int64_t row_offset = 0;
  int num_sequences = 0;
  int num_chunks = 0;  // Σ ceil(len_i / Q) from the host spans: grid sizes only

  // Scratch (see SsdLayout).
  SsdChunk* chunks = nullptr;
  int32_t* first_chunk = nullptr;
  float* dt_out = nullptr;
  double* cumsum = nullptr;
  float* decay = nullptr;
  float* weight = nullptr;
  float* cb = nullptr;
  float* states = nullptr;
};

// Phase 0 + 1: chunk table, then per (chunk, head) dt, cumsum of dt·A, decay and weight vectors.
void launch_ssd_prepare(const SsdArgs& args, void* stream);
// Per (chunk, group): C·Bᵀ, the lower triangle of each chunk's Q×Q token-pair products.
void launch_ssd_chunk_cb(const SsdArgs& args, void* stream);
// Per (chunk, head): the chunk's own state contribution Σ_s weight_s·x_s ⊗ B_s into state entry k + 1.
void launch_ssd_chunk_state(const SsdArgs& args, void* stream);
// Per (sequence, head): initial state in, each chunk's entering state in place, final state to the slot.
void launch_ssd_state_passing(const SsdArgs& args, void* stream);
// Per (chunk, head): y = decay·C·S_in + (causal CB ∘ decay ∘ dt)·x + D·x.
void launch_ssd_chunk_scan(const SsdArgs& args, void* stream);

}  // namespace strata::kernels::cuda
