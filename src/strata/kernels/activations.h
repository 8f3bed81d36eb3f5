// Feed-forward activations over f32 rows, in place: relu² (Nemotron-H), SiLU-gated (SwiGLU:
// silu(gate)·up), exact GELU and GELU-gated (GeGLU: gelu(gate)·up). Neutral entry point;
// cpu/ffn_activations.h has the vector loops.
#pragma once

#include <cstdint>

#include "strata/core/exec.h"
#include "strata/core/tensor.h"

namespace strata::kernels {

enum class FfnActivation : uint8_t {
  relu2,       // Nemotron-H: relu(x)², not gated
  silu_gated,  // SwiGLU: silu(gate_proj(x)) · up_proj(x) (Mixtral, DeepSeek, Granite, Bamba, ...)
  gelu,        // exact (erf) GELU, not gated
  gelu_gated,  // GeGLU: gelu(gate_proj(x)) · up_proj(x), exact erf GELU (Zamba2's shared MLP)
};

// Whether the activation multiplies a gate projection into the up projection (and so needs gate_proj).
inline bool is_gated(FfnActivation activation) {
  return activation == FfnActivation::silu_gated || activation == FfnActivation::gelu_gated;
}

const char* ffn_activation_name(FfnActivation activation);

// h ← act(h) row by row; h f32 [T, I] (row stride >= I). the gated ones read `gate` (same shape) and
// write act(gate)·h; the other activations ignore it.
void ffn_activation(FfnActivation activation, const Tensor& h, const Tensor& gate, const Exec& exec);

}  // namespace strata::kernels
