// Granite-4.0-H (GraniteMoeHybridForCausalLM): every layer is {input_layernorm, Mamba2 or attention,
// post_attention_layernorm, MoE + shared SwiGLU MLP} — or, with num_local_experts 0, the shared MLP alone —
// with Granite's multipliers (embedding, residual, attention softmax scale, logits) and RoPE or none.
// Experts are stacked tensors with gate|up fused (input_linear [E, 2I, D]); the router is a softmax over
// the top-k logits.
#include <cmath>

#include "strata/model/config_fields.h"
#include "strata/model/families/family.h"
#include "strata/model/model_config.h"

namespace strata::model {

namespace {

float positive(const ConfigFields& f, const char* key, double fallback) {
  const double v = f.number(key, fallback);
  if (!(v > 0.0) || !std::isfinite(v)) fail("{}: field '{}' must be a positive number, got {}", f.filename(), key, v);
  return static_cast<float>(v);
}

void read_granite(const ConfigFields& f, ModelConfig& c) {
  c.norm_eps = positive(f, "rms_norm_eps", 1e-6);
  c.mamba_norm_eps = c.norm_eps;
  c.mamba_conv_bias = f.boolean("mamba_conv_bias", true);
  c.mamba_proj_bias = f.boolean("mamba_proj_bias", false);
  c.attention_bias = f.boolean("attention_bias", false);
  c.tie_word_embeddings = f.boolean("tie_word_embeddings", false);
  read_time_step_limit(f, c);
  c.embedding_multiplier = positive(f, "embedding_multiplier", 1.0);
  c.residual_multiplier = positive(f, "residual_multiplier", 1.0);
  c.attention_multiplier = positive(f, "attention_multiplier", 1.0);
  c.logits_scaling = positive(f, "logits_scaling", 1.0);
  const std::string position = f.string("position_embedding_type", "nope");
  if (position == "rope")
    read_rope(f, c);
  else if (position != "nope")
    fail("{}: field 'position_embedding_type' is '{}'; expected \"rope\" or \"nope\"", f.filename(), position);
  read_mlp_activation(f, "hidden_act", "silu", c);
  if (c.mlp_activation != MlpActivation::silu_gated)
    fail("{}: field 'hidden_act' must be \"silu\" (Granite's MLPs are SwiGLU)", f.filename());
  const int64_t shared = f.integer("shared_intermediate_size");
  if (shared <= 0) fail("{}: field 'shared_intermediate_size' must be positive, got {}", f.filename(), shared);
  c.intermediate_size = shared;  // the MLP of dense layers is the shared MLP
  const int64_t experts = f.integer("num_local_experts", 0);
  if (experts > 0) {
    MoeSettings& m = c.moe;
    m.n_routed_experts = experts;
    m.top_k = f.integer("num_experts_per_tok");
    m.intermediate_size = f.integer("intermediate_size");
    m.shared_intermediate_size = shared;
    m.norm_topk_prob = true;  // softmax over the top-k logits = softmax over all, renormalised over the top k
    if (m.top_k <= 0 || m.top_k > experts)
      fail("{}: num_experts_per_tok ({}) must be between 1 and num_local_experts ({})", f.filename(), m.top_k, experts);
    c.router_scoring = kernels::RouterScoring::softmax;
  }
}

// input_linear [2I, D] holds gate then up; output_linear is the down projection.
MlpNames fused_mlp_names() {
  MlpNames names;
  names.gate_up = "input_linear.weight";
  names.down = "output_linear.weight";
  return names;
}

MoeNames granite_moe_names() {
  MoeNames names;
  names.router = "router.layer.weight";
  names.stacked_gate_up = "input_linear.weight";
  names.stacked_down = "output_linear.weight";
  names.shared = "shared_mlp.";
  names.shared_mlp = fused_mlp_names();
  return names;
}

}  // namespace

const FamilySpec& granite_hybrid_family() {
  static const FamilySpec spec{
      .model_type = "granitemoehybrid",
      .summary = "Granite-4.0-H: Mamba2 or attention, then MoE + shared MLP (or the shared MLP alone)",
      .map_schedule = schedule::granite_hybrid_schedule,
      .read_config = read_granite,
      .names = TensorNames{
          .embeddings = {"model.embed_tokens.weight"},
          .final_norm = "model.norm.weight",
          .lm_head = "lm_head.weight",
          .layer = "model.layers.{}.",
          .mixer_norm = "input_layernorm.weight",
          .ffn_norm = "post_attention_layernorm.weight",
          .mamba = "mamba.",
          .attention = "self_attn.",
          .mlp = "shared_mlp.",
          .moe = "block_sparse_moe.",
          .mlp_names = fused_mlp_names(),
          .moe_names = granite_moe_names(),
          .shared_names = {},
          .ignored_prefixes = {}}};
  return spec;
}

}  // namespace strata::model
