// Selective state update: the Mamba2 recurrence run token by token from each sequence's slot of the
// SSM state pool [num_slots, H, P, N] — one token for decode, 1+S for speculative verification, which
// can also record the state after every token so the cache can roll back to an accepted prefix.
#pragma once

#include <cstdint>
#include <limits>

#include "strata/core/tensor.h"
#include "strata/core/thread_pool.h"
#include "strata/kernels/state_update.h"
#include "strata/kernels/varlen.h"

namespace strata::kernels::cpu {

// The operands are declared with the neutral entry point (kernels/state_update.h).
using kernels::SelectiveStateUpdateParams;
using kernels::kMaxStateDim;
using kernels::SelectiveStateUpdateInputs;
using kernels::SelectiveStateUpdateWeights;

// ssm_state: f32|bf16 [num_slots, H, P, N]; intermediate: same dtype, [num_sequences, >= max length,
// H, P, N], or absent; y: f32 [T, H*P]. Throws strata::Error naming the offending tensor or field.
using kernels::check_selective_state_update;  // declared with the neutral entry point

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
