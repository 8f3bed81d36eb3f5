// AttentionLayer: q/k/v projections → optional RoPE → paged causal attention (GQA) → o_proj, over one
// packed batch, storing the new tokens' K and V in the sequence's KV blocks. Nemotron-H attention has
// no positional encoding and no biases; RoPE and biases are here for the families that use them.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "strata/core/tensor.h"
#include "strata/core/thread_pool.h"
#include "strata/kernels/cpu/attention.h"
#include "strata/kernels/cpu/varlen.h"
#include "strata/model/workspace.h"

namespace strata::model {

struct AttentionDims {
  int64_t hidden = 0;
  int64_t q_heads = 0;
  int64_t kv_heads = 0;
  int64_t head_dim = 0;
  int64_t sliding_window = 0;  // 0 = full causal attention
  float rope_theta = 0.0f;     // 0 = no positional encoding
};

// As stored in the checkpoint; biases optional (data == nullptr).
struct AttentionWeights {
  Tensor q_proj, k_proj, v_proj, o_proj;
  Tensor q_bias, k_bias, v_bias, o_bias;
};

class AttentionLayer {
 public:
  // Checks shapes (throws strata::Error naming `name` and the tensor).
  AttentionLayer(const AttentionDims& dims, const AttentionWeights& weights, const std::string& name);

  // x: f32 [T, D] normed input; out (+)= attention(x). start_positions: tokens already cached per sequence.
  void forward(const Tensor& x, Tensor& out, bool accumulate, const kernels::VarlenBatch& batch,
               std::span<const int64_t> start_positions, const kernels::cpu::PagedKv& kv, Workspace& workspace,
               ThreadPool& pool) const;

 private:
  AttentionDims dims_;
  AttentionWeights weights_;
};

}  // namespace strata::model
