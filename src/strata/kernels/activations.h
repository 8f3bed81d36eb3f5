// Feed-forward activations over f32 rows, in place: relu² (Nemotron-H), SiLU-gated (SwiGLU:
// silu(gate)·up) and exact GELU. Neutral entry point; cpu/ffn_activations.h has the vector loops.
#pragma once

#include <cstdint>

#include "strata/core/exec.h"
#include "strata/core/tensor.h"

namespace strata::kernels {

enum class FfnActivation : uint8_t {
  relu2,       // Nemotron-H: relu(x)², not gated
  silu_gated,  // SwiGLU: silu(gate_proj(x)) · up_proj(x) (Mixtral, DeepSeek, Granite, Bamba, ...)
  gelu,        // exact (erf) GELU, not gated (Zamba2)
};

const char* ffn_activation_name(FfnActivation activation);

// h ← act(h) row by row; h f32 [T, I] (row stride >= I). silu_gated reads `gate` (same shape) and
// writes silu(gate)·h; the other activations ignore it.
void ffn_activation(FfnActivation activation, const Tensor& h, const Tensor& gate, const Exec& exec);

}  // namespace strata::kernels
