// Chunked SSD scan (Mamba2 prefill) over a packed varlen batch: y = SSM(x, dt, A, B, C) + D·x, each
// sequence starting from its slot's state (or zeros) and writing its final state back, optionally
// capturing states at chunk boundaries. Neutral entry point; cpu/ssd_scan.h has the algorithm.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>

#include "strata/core/exec.h"
#include "strata/core/tensor.h"
#include "strata/kernels/varlen.h"

namespace strata::kernels {

struct SsdParams {
  int64_t n_heads = 0;     // H
  int64_t head_dim = 0;    // P
  int64_t state_size = 0;  // N
  int64_t n_groups = 0;    // G: B and C are shared by H / G consecutive heads
  int64_t chunk_size = 0;  // Q: chunks restart at every sequence's first token
  float dt_min = 0.0f;     // dt is clamped to [dt_min, dt_max] after bias and softplus
  float dt_max = std::numeric_limits<float>::infinity();
  bool dt_softplus = true;  // softplus with torch's threshold 20 (identity above it)
  // The fast path on CUDA: the scan's matrix products (C·Bᵀ, the chunk states, y) take bf16 operands on
  // the tensor cores with f32 accumulation; dt, the cumsums, the decays and the state pass stay f32 (the
  // entering state is rounded to bf16 only as an operand of C·S). Off: f32 FMAs, exact to the CPU's
  // order. The CPU ignores it (its scan is always f32).
  bool bf16_products = false;
};

// The state of one sequence after `offset` tokens, copied out for prefix reuse. `offset` counts from the
// sequence's first token and is a multiple of chunk_size in [0, length]; 0 gives the initial state.
struct SsdCapture {
  int64_t sequence = 0;
  int64_t offset = 0;
  Tensor state;  // f32 [H, P, N], contiguous
};

// Inputs, all f32. Token-row tensors are 2-D with unit column stride; their row stride may exceed the
// width (column windows into the in_proj / conv output).
struct SsdInputs {
  Tensor x;        // [T, H*P], head-major columns (h·P + p)
  Tensor dt;       // [T, H], raw: before dt_bias and softplus
  Tensor B;        // [T, G*N], group-major columns (g·N + n)
  Tensor C;        // [T, G*N]
  Tensor A;        // [H], already −exp(A_log)
  Tensor D;        // [H], the skip connection
  Tensor dt_bias;  // [H]
};

// Scratch for a batch of at most num_tokens tokens in num_sequences sequences on `threads` threads
// (CPU). Device::cuda gives the CUDA scan's requirement instead (threads ignored): it keeps one f32
// [H, P, N] state per chunk boundary, (T / Q + 2·S)·H·P·N floats, well above the CPU's.
size_t ssd_workspace_bytes(const SsdParams& params, int64_t num_tokens, int64_t num_sequences, int threads,
                           Device device = Device::cpu);

// Throws strata::Error naming the offending tensor or field (see cpu/ssd_scan.h). Device-neutral: all
// tensors must live on x's device; it reads no device memory (so A <= 0 is checked for CPU tensors only),
// and for CUDA tensors it also requires the batch's device arrays and the CUDA workspace size.
void check_ssd_scan(const SsdParams& params, const SsdInputs& inputs, const VarlenBatch& batch,
                    const Tensor& ssm_states, const Tensor& y, std::span<const SsdCapture> captures,
                    size_t workspace_bytes, int threads);

void ssd_scan(const SsdParams& params, const SsdInputs& inputs, const VarlenBatch& batch, Tensor ssm_states,
              Tensor y, std::span<const SsdCapture> captures, void* workspace, size_t workspace_bytes,
              const Exec& exec);

}  // namespace strata::kernels
