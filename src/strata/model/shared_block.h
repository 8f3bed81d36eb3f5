// SharedBlockUse: one use of a Zamba2 shared transformer block by a hybrid layer. The block's weights
// are shared by every layer that uses it (bound once); each use has its own low-rank adapters, its own
// KV cache layer and its own output projection. It reads concat(hidden, original embeddings) and
// returns linear(mlp(norm(attention(norm(concat))))) — no residual inside — which the layer adds to
// its Mamba2 mixer's input (not to the residual stream), as transformers' Zamba2HybridLayer does.
#pragma once

#include <cstddef>
#include <cstdint>

#include "strata/core/tensor.h"
#include "strata/model/attention_layer.h"
#include "strata/model/mlp_layer.h"
#include "strata/model/step.h"

namespace strata::model {

struct SharedBlockUse {
  int block = 0;            // which shared block (for `strata info` and errors)
  float norm_eps = 1e-5f;
  Tensor input_norm;        // f32 [2·D], the RMSNorm over concat(hidden, embeddings)
  AttentionLayer attention;  // shared q/k/v/o with this use's adapters; input width 2·D, output D
  int attention_layer = 0;  // its KV cache layer
  Tensor ffn_norm;          // f32 [D]
  MlpWeights mlp;           // shared gate|up/down with this use's adapter
  MlpActivation activation = MlpActivation::gelu_gated;
  Tensor linear;            // [D, D], this layer's own projection of the block output

  // out = the block's contribution for this layer, f32 [T, D]; hidden and embeddings f32 [T, D].
  void forward(const Tensor& hidden, const Tensor& embeddings, Tensor& out, StepContext& step) const;
  void visit_tensors(const TensorVisitor& visit);
  size_t scratch_bytes(int64_t tokens, int64_t hidden_size) const;
};

}  // namespace strata::model
