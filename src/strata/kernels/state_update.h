// Selective state update: the Mamba2 recurrence token by token from each sequence's slot of the SSM
// state pool [num_slots, H, P, N] — one token for decode, 1+S for speculative verification, optionally
// recording the state after every token. Neutral entry point; cpu/state_update.h has the math.
#pragma once

#include <cstdint>
#include <limits>

#include "strata/core/exec.h"
#include "strata/core/tensor.h"
#include "strata/kernels/varlen.h"

namespace strata::kernels {

struct SelectiveStateUpdateParams {
  int64_t n_heads = 0;     // H
  int64_t head_dim = 0;   // P
  int64_t state_size = 0;  // N (at most kMaxStateDim)
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

void check_selective_state_update(const SelectiveStateUpdateParams& params,
                                  const SelectiveStateUpdateInputs& inputs,
                                  const SelectiveStateUpdateWeights& weights, const VarlenBatch& batch,
                                  const Tensor& ssm_state, const Tensor& intermediate, const Tensor& y);

void selective_state_update(const SelectiveStateUpdateParams& params,
                            const SelectiveStateUpdateInputs& inputs,
                            const SelectiveStateUpdateWeights& weights, const VarlenBatch& batch,
                            const Tensor& ssm_state, const Tensor& intermediate, const Tensor& y,
                            const Exec& exec);

}  // namespace strata::kernels
