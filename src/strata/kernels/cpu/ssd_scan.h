// Chunked SSD scan (Mamba2 prefill) on the CPU over a packed varlen batch: y = SSM(x, dt, A, B, C) + D·x,
// each sequence starting from its slot's state (or zeros) and writing its final state back to the slot,
// optionally capturing states at chunk boundaries. fp32 math; intra-chunk and state work are matrix products.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>

#include "strata/core/tensor.h"
#include "strata/core/thread_pool.h"
#include "strata/kernels/cpu/varlen.h"

namespace strata::kernels::cpu {

struct SsdParams {
  int64_t heads = 0;       // H
  int64_t head_dim = 0;    // P
  int64_t state_size = 0;  // N
  int64_t n_groups = 0;    // G: B and C are shared by H / G consecutive heads
  int64_t chunk_size = 0;  // Q: chunks restart at every sequence's first token
  float dt_min = 0.0f;     // dt is clamped to [dt_min, dt_max] after bias and softplus
  float dt_max = std::numeric_limits<float>::infinity();
  bool dt_softplus = true;  // softplus with torch's threshold 20 (identity above it)
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

// Scratch the kernel needs for a batch of at most num_tokens tokens in num_sequences sequences, run on a
// pool of `threads` threads. Grows with (T/Q + S)·G·Q·(Q + N) floats (the chunks' C·Bᵀ and Bᵀ) plus a few
// Q×Q and N×P blocks per thread.
size_t ssd_workspace_bytes(const SsdParams& params, int64_t num_tokens, int64_t num_sequences, int threads);

// Throws strata::Error naming the offending tensor or field if the arguments do not fit together: shapes,
// dtypes, strides, slots (in range, no duplicates), captures, workspace size for pool.size() threads.
void ssd_scan_check(const SsdParams& params, const SsdInputs& inputs, const VarlenBatch& batch,
                    const Tensor& ssm_states, const Tensor& y, std::span<const SsdCapture> captures,
                    size_t workspace_bytes, const ThreadPool& pool);

// The scan. ssm_states is the layer's state pool [num_slots, H, P, N] in f32 or bf16 (bf16 is widened on
// load and rounded once on the final store); y is [T, H*P] f32 (unit column stride) and must not overlap
// the inputs. Sequence i reads slot slots[i] when has_initial_state[i] (zeros otherwise) and overwrites it
// with its final state; a zero-length sequence writes its initial state back. Assumes ssd_scan_check
// passed; never throws, allocates nothing (all scratch lives in `workspace`, 64-byte aligned).
void ssd_scan(const SsdParams& params, const SsdInputs& inputs, const VarlenBatch& batch, Tensor ssm_states,
              Tensor y, std::span<const SsdCapture> captures, void* workspace, size_t workspace_bytes,
              ThreadPool& pool);

}  // namespace strata::kernels::cpu
