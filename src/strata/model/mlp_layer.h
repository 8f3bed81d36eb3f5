// The dense feed-forward layer: out (+)= down(act(up(x))), or down(act(gate(x)) · up(x)) when gated,
// with two family extras: Falcon-H1's gate multiplier (act(gate(x)·m)) and Zamba2's per-layer low-rank
// adapter on the shared gate|up projection (gate|up += (x·Aᵀ)·Bᵀ). Weights stay in their checkpoint dtype (f32/bf16/f16, nn.Linear [out, in]); activations are f32.
// MoE experts are MlpWeights too (moe_layer.h runs them on gathered rows).
#pragma once

#include "strata/model/tensor_visit.h"

#include <cstdint>
#include <string_view>

#include "strata/core/tensor.h"
#include "strata/core/exec.h"
#include "strata/core/workspace.h"
#include "strata/kernels/activations.h"

namespace strata::model {

// relu2 (Nemotron-H), silu_gated (SwiGLU), gelu, gelu_gated (GeGLU): the kernels' FFN activations.
using MlpActivation = kernels::FfnActivation;

// A tensor whose data is nullptr is absent.
struct MlpWeights {
  Tensor up;         // [intermediate, hidden]
  Tensor down;       // [hidden, intermediate]
  Tensor gate;       // [intermediate, hidden]; present exactly when the activation is gated
  Tensor up_bias;    // [intermediate], optional (mlp_bias)
  Tensor down_bias;  // [hidden], optional
  Tensor gate_bias;  // [intermediate], optional, only with gate
  float gate_multiplier = 1.0f;  // Falcon-H1's mlp_multipliers[0]: act(gate(x) · m)
  // Zamba2's adapter (optional, gated only): gate(x) += (x·adapter_inᵀ)·adapter_gateᵀ, likewise up.
  Tensor adapter_in;    // [rank, hidden]
  Tensor adapter_gate;  // [intermediate, rank]
  Tensor adapter_up;    // [intermediate, rank]
};

inline bool present(const Tensor& t) { return t.data != nullptr; }

// Every tensor of the MLP (absent ones too: a visitor leaves those alone).
void visit_tensors(MlpWeights& weights, const TensorVisitor& visit);

const char* mlp_activation_name(MlpActivation activation);

// Checks shapes/dtypes against `hidden` (the width the MLP reads and writes); throws strata::Error
// that names `layer` (e.g. "layers.3.mixer.experts.17") and the offending tensor.
void check_mlp(const MlpWeights& weights, MlpActivation activation, int64_t hidden,
                  std::string_view layer);

// out[T, hidden] = mlp(x[T, hidden]), or out += mlp(x) when `accumulate` (the residual add). x and out
// are f32 with contiguous rows and must not overlap. Scratch ([T, intermediate], twice when gated) comes
// from `workspace` and stays taken until its reset(). Validates its operands (cheap, no data read) and
// throws strata::Error on misuse.
void mlp_forward(const MlpWeights& weights, MlpActivation activation, const Tensor& x, Tensor& out,
                 Workspace& workspace, const Exec& exec, bool accumulate = false);

// Workspace bytes mlp_forward takes for `tokens` tokens.
size_t mlp_scratch_bytes(const MlpWeights& weights, MlpActivation activation, int64_t tokens);

}  // namespace strata::model
