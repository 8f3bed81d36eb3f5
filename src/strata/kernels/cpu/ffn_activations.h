// Feed-forward activations applied in place to f32 rows: relu² (Nemotron-H MLP and experts), SiLU-gated
// (SwiGLU experts: silu(gate) · up) and exact GELU. Pure element-wise functions: no allocation, no
// threads, no throwing; the caller splits large buffers across its pool.
#pragma once

#include "strata/core/thread_pool.h"
#include "strata/kernels/activations.h"

#include <cstdint>

namespace strata::kernels::cpu {

// x ← relu(x)², as transformers' ReLUSquaredActivation (relu first, then square).
void relu2_inplace(float* x, int64_t n);

// up ← silu(gate) · up, transformers' act_fn(gate_proj(x)) * up_proj(x) with act_fn = SiLU.
void silu_gate_inplace(float* up, const float* gate, int64_t n);

// x ← x · Φ(x) = 0.5·x·(1 + erf(x/√2)), torch's default (non-tanh) GELU.
void gelu_inplace(float* x, int64_t n);
// up[i] = gelu(gate[i]) · up[i] (GeGLU, exact erf GELU).
void gelu_gate_inplace(float* up, const float* gate, int64_t n);

// The row loop behind kernels::ffn_activation: rows split across the pool when the block is large.
void ffn_activation(FfnActivation activation, const Tensor& h, const Tensor& gate, ThreadPool& pool);

}  // namespace strata::kernels::cpu
