// Block: one layer of any hybrid, mirroring its LayerSpec — {mixer norm, mixer, FFN norm, FFN} where the
// mixer is none, Mamba2, attention, or attention ‖ Mamba2 in parallel on the same normed input (summed,
// as Falcon-H1), and the FFN is none, an MLP (relu², SwiGLU, GeGLU, GELU) or MoE with a shared expert.
// Each part adds into the f32 residual stream, scaled by its multiplier. A Nemotron-H `M` layer is a
// block with a mixer and no FFN; a Zamba2 hybrid layer is a Mamba2 block whose mixer norm reads
// hidden + a shared transformer block's output (shared_block.h).
#pragma once

#include <cstddef>
#include <optional>

#include "strata/core/tensor.h"
#include "strata/model/attention_layer.h"
#include "strata/model/mamba2_mixer.h"
#include "strata/model/mlp_layer.h"
#include "strata/model/moe_layer.h"
#include "strata/model/shared_block.h"
#include "strata/model/step.h"

namespace strata::model {

// The largest step a workspace must hold, for Block::scratch_bytes and Model::workspace_bytes.
struct StepShape {
  int64_t tokens = 0;           // packed tokens
  int64_t sequences = 0;        // sequences in the step
  int64_t kept_sequences = 0;   // sequences that may keep per-token states
  int64_t kept_length = 0;      // their longest length (S + 1)
  int64_t logit_rows = 0;       // rows of logits
};

struct Block {
  int schedule_index = 0;
  float norm_eps = 1e-5f;
  Tensor mixer_norm;                   // f32 [D]; absent when the block has no mixer
  std::optional<Mamba2Mixer> mamba;    // with cache_mamba_layer, its index among the Mamba layers
  std::optional<AttentionLayer> attention;
  int mamba_layer = -1, attention_layer = -1;
  Tensor ffn_norm;                     // f32 [D]; absent when the block has no FFN
  std::optional<MlpWeights> mlp;
  std::optional<MoeWeights> moe;
  MlpActivation mlp_activation = MlpActivation::relu2;
  const MoeConfig* moe_config = nullptr;
  // Multipliers (1 = none). Each part's output joins the residual as residual + part · multiplier: the
  // mixers' and the FFN's combine Granite's residual_multiplier with Falcon-H1's per-part ones. The
  // mixers' inputs are the normed residual times their input multiplier (Falcon-H1).
  float attention_output_multiplier = 1.0f, mamba_output_multiplier = 1.0f, ffn_output_multiplier = 1.0f;
  float attention_input_multiplier = 1.0f, mamba_input_multiplier = 1.0f;
  std::optional<SharedBlockUse> shared;  // Zamba2 hybrid layer: feeds the Mamba2 mixer's norm

  // hidden: f32 [T, D], the residual stream, updated in place; embeddings: the step's original
  // embeddings f32 [T, D] (read by shared blocks only).
  void forward(Tensor& hidden, const Tensor& embeddings, StepContext& step) const;
  // Workspace bytes forward takes (returned when it ends: the model runs each block in a Scope).
  size_t scratch_bytes(const StepShape& shape, int64_t hidden_size, int threads, Device device) const;
  // Every tensor of every part.
  void visit_tensors(const TensorVisitor& visit);
};

}  // namespace strata::model
