// The feed-forward activations of kernels/activations.h on CUDA, in place over f32 rows: relu², SiLU-
// gated, exact (erf) GELU and GELU-gated, with the CPU's scalar expressions (cpu/ffn_activations.cpp)
// in f32: silu(g) = g / (1 + expf(-g)), gelu(x) = 0.5·x·(1 + erff(x/√2)). One row_map launch on the
// Exec's stream (no allocation, no sync); an empty shape launches nothing. Operands are assumed checked
// by the neutral entry point.
#pragma once

#include "strata/core/exec.h"
#include "strata/core/tensor.h"
#include "strata/kernels/activations.h"

namespace strata::kernels::cuda {

void ffn_activation(FfnActivation activation, const Tensor& h, const Tensor& gate, const Exec& exec);

}  // namespace strata::kernels::cuda
