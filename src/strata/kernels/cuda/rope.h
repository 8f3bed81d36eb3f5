// Rotary position embedding of kernels/rope.h on CUDA, in place over f32 q or k rows: the same
// parameters, pairings (NeoX rotate_half, GPT-J interleaved), partial rotary_dim and f32 angle arithmetic
// as cpu/rope.h. Positions are read from positions.device (one i64 per row); the host span only sizes
// the call. One block per token row on the Exec's stream (no allocation, no sync); no rows, no launch.
// Operands are assumed checked (the neutral entry point runs check_rope and requires positions.device).
#pragma once

#include "strata/core/exec.h"
#include "strata/core/tensor.h"
#include "strata/kernels/rope.h"
#include "strata/kernels/varlen.h"

namespace strata::kernels::cuda {

void apply_rope(const RopeParams& params, const Tensor& x, Mirrored<int64_t> positions, const Exec& exec);

}  // namespace strata::kernels::cuda
