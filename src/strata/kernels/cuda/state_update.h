// Selective state update (Mamba2 decode and (1+S)-token verify) on CUDA: the same semantics and
// parameters as kernels/state_update.h, f32 math over an f32 or bf16 SSM pool, on the Exec's stream.
// Batch metadata is read only through batch.device; the host spans only size the grid.
#pragma once

#include "strata/core/exec.h"
#include "strata/core/tensor.h"
#include "strata/kernels/state_update.h"
#include "strata/kernels/varlen.h"

namespace strata::kernels::cuda {

// One launch: a warp per 4 rows (p) of one head of one sequence, lanes across N; the state is read once,
// kept in registers over the sequence's tokens, and written once (plus `intermediate` [i, j] after
// token j when present). Assumes check_selective_state_update passed, batch.device is filled in and the
// grid (sequences · H · ceil(P/16) blocks) is below 2^31 (the neutral entry point checks both).
void selective_state_update(const SelectiveStateUpdateParams& params,
                            const SelectiveStateUpdateInputs& inputs,
                            const SelectiveStateUpdateWeights& weights, const VarlenBatch& batch,
                            const Tensor& ssm_state, const Tensor& intermediate, const Tensor& y,
                            const Exec& exec);

}  // namespace strata::kernels::cuda
