// Selective state update: the Mamba2 recurrence run token by token from each sequence's slot of the
// SSM state pool [num_slots, H, P, N] — one token for decode, 1+S for speculative verification, which
// can also record the state after every token so the cache can roll back to an accepted prefix.
#pragma once

#include <cstdint>
#include <limits>

#include "strata/core/tensor.h"
#include "strata/core/thread_pool.h"
#include "strata/kernels/cpu/varlen.h"

namespace strata::kernels::cpu {

struct SelectiveStateUpdateParams {
  int64_t num_heads = 0;  // H
  int64_t head_dim = 0;   // P
  int64_t state_dim = 0;  // N (at most kMaxStateDim)
  int64_t n_groups = 1;   // G; heads h share B/C group h / (H/G)
  bool dt_softplus = true;
  // Applied after softplus; Mamba2's default (0, inf) is a no-op.
  float dt_min = 0.0f;
  float dt_max = std::numeric_limits<float>::infinity();
};

constexpr int64_t kMaxStateDim = 512;

// Per-token activations, f32, token-major; rows may be strided column windows of a wider buffer.
struct SelectiveStateUpdateInputs {
  Tensor x;   // [T, H*P]
  Tensor dt;  // [T, H], before dt_bias and softplus
  Tensor B;   // [T, G*N]
  Tensor C;   // [T, G*N]
};

// Per-head parameters, f32 [H]. D and dt_bias may be absent (data == nullptr) meaning zero.
struct SelectiveStateUpdateWeights {
  Tensor A;  // -exp(A_log), computed once at load
  Tensor D;
  Tensor dt_bias;
};

// ssm_state: f32|bf16 [num_slots, H, P, N]; intermediate: same dtype, [num_sequences, >= max length,
// H, P, N], or absent; y: f32 [T, H*P]. Throws strata::Error naming the offending tensor or field.
void check_selective_state_update(const SelectiveStateUpdateParams& params,
                                  const SelectiveStateUpdateInputs& inputs,
                                  const SelectiveStateUpdateWeights& weights, const VarlenBatch& batch,
                                  const Tensor& ssm_state, const Tensor& intermediate, const Tensor& y);

// Per sequence i, head h, token j (math of kernels_models.md §1.1):
//   dt = clamp(softplus(dt_raw + dt_bias)), S = exp(dt·A)·S + dt·x ⊗ B, y = S·C + D·x.
// Starts from slot slots[i] (zeros if !has_initial_state[i]) and stores the final state there; with
// `intermediate`, [i, j] receives the state after token j. State is computed in f32; a bf16 pool is
// rounded after every token (y uses the unrounded state), so a (1+S)-token call equals 1+S one-token
// calls exactly. A negative slot marks a padding row: y is zero and no state is touched.
void selective_state_update(const SelectiveStateUpdateParams& params,
                            const SelectiveStateUpdateInputs& inputs,
                            const SelectiveStateUpdateWeights& weights, const VarlenBatch& batch,
                            const Tensor& ssm_state, const Tensor& intermediate, const Tensor& y,
                            ThreadPool& pool);

}  // namespace strata::kernels::cpu
