// The middle of a Mamba2 decode step — the selective state update, then the gated RMSNorm of its y — as
// one call, so a backend can fuse them: exactly selective_state_update (no intermediate states) followed
// by gated_rms_norm(norm, y, z, norm_weight → normed) (normed may be y). On CUDA one launch does both when
// the operands suit it (cuda/state_update.h: each sequence's last block norms its rows); otherwise, and on
// the CPU, the two ops run one after the other.
#pragma once

#include "strata/core/exec.h"
#include "strata/core/tensor.h"
#include "strata/kernels/norm.h"
#include "strata/kernels/state_update.h"
#include "strata/kernels/varlen.h"

namespace strata::kernels {

void selective_state_update_normed(const SelectiveStateUpdateParams& params,
                                   const SelectiveStateUpdateInputs& inputs,
                                   const SelectiveStateUpdateWeights& weights, const VarlenBatch& batch,
                                   const Tensor& ssm_state, const Tensor& y, const GatedRmsNormParams& norm,
                                   const Tensor& z, const Tensor& norm_weight, const Tensor& normed,
                                   const Exec& exec);

}  // namespace strata::kernels
