// AttentionLayer: q/k/v projections → optional RoPE → paged causal attention (GQA) → o_proj, over one
// packed batch, storing the new tokens' K and V in the sequence's KV blocks. Nemotron-H attention has
// no positional encoding and no biases; RoPE and biases are here for the families that use them, as are
// Falcon-H1's key multiplier and Zamba2's wider input (concat(hidden, embedding)) with per-layer
// low-rank adapters on q/k/v.
#pragma once

#include "strata/model/tensor_visit.h"

#include <cstdint>
#include <span>
#include <string>

#include "strata/core/tensor.h"
#include "strata/core/exec.h"
#include "strata/core/workspace.h"
#include "strata/kernels/attention.h"
#include "strata/kernels/rope.h"
#include "strata/kernels/varlen.h"

namespace strata::model {

struct AttentionDims {
  int64_t hidden = 0;
  int64_t n_heads = 0;     // query heads
  int64_t n_kv_heads = 0;  // key/value heads (GQA)
  int64_t head_dim = 0;
  int64_t sliding_window = 0;  // 0 = full causal attention
  float rope_theta = 0.0f;     // 0 = no positional encoding
  int64_t rotary_dim = 0;      // dimensions of each head that rotate (partial RoPE); 0 = head_dim
  kernels::RopeStyle rope_style = kernels::RopeStyle::neox;
  float softmax_scale = 0.0f;  // multiplies q·k; 0 = 1/sqrt(head_dim)
  float key_multiplier = 1.0f;  // k = k_proj(x) · m before RoPE (Falcon-H1)
  int64_t input_width = 0;      // columns of x; 0 = hidden (Zamba2's shared attention reads 2·hidden)
  int64_t in_width() const { return input_width > 0 ? input_width : hidden; }
};

// A low-rank adapter on a projection: y += (x·inᵀ)·outᵀ; absent when `in` is.
struct LowRankAdapter {
  Tensor in;   // [rank, input width]
  Tensor out;  // [projection width, rank]
};

// As stored in the checkpoint; biases optional (data == nullptr).
struct AttentionWeights {
  Tensor q_proj, k_proj, v_proj, o_proj;
  Tensor q_bias, k_bias, v_bias, o_bias;
  LowRankAdapter q_adapter, k_adapter, v_adapter;  // Zamba2 use_shared_attention_adapter
};

class AttentionLayer {
 public:
  // Checks shapes (throws strata::Error naming `name` and the tensor).
  AttentionLayer(const AttentionDims& dims, const AttentionWeights& weights, const std::string& name);

  // x: f32 [T, D] normed input; out (+)= attention(x). start_positions: tokens already cached per
  // sequence; positions: the position of every token (for RoPE).
  void forward(const Tensor& x, Tensor& out, bool accumulate, const kernels::VarlenBatch& batch,
               kernels::Mirrored<int64_t> start_positions, kernels::Mirrored<int64_t> positions,
               const kernels::PagedKv& kv, Workspace& workspace, const Exec& exec) const;

  // Workspace bytes forward takes for `tokens` tokens.
  size_t scratch_bytes(int64_t tokens) const;
  // Every tensor forward reads.
  void visit_tensors(const TensorVisitor& visit);

 private:
  AttentionDims dims_;
  AttentionWeights weights_;
};

}  // namespace strata::model
