// Nemotron-H (NemotronHForCausalLM): one part per layer — Mamba2 (M), attention (*), relu² MLP (-) or
// MoE with a shared expert and optional latent projections (E) — each block {norm, part}. The MTP heads
// (mtp.*) are drafting heads, not part of the trunk, and are skipped as transformers skips them.
#include "strata/model/config_fields.h"
#include "strata/model/families/family.h"
#include "strata/model/model_config.h"

namespace strata::model {

namespace {

void read_nemotron_h(const ConfigFields& f, ModelConfig& c) {
  c.norm_eps = static_cast<float>(f.number("layer_norm_epsilon", 1e-5));
  c.mamba_norm_eps = c.norm_eps;
  c.mamba_conv_bias = f.boolean("use_conv_bias", true);
  c.mamba_proj_bias = f.boolean("mamba_proj_bias", f.boolean("use_bias", false));
  c.attention_bias = f.boolean("attention_bias", false);
  c.tie_word_embeddings = f.boolean("tie_word_embeddings", false);
  read_time_step_limit(f, c);

  bool has_mlp = false, has_moe = false;
  for (const auto& layer : c.schedule.layers) {
    has_mlp |= layer.ffn == schedule::FfnKind::mlp;
    has_moe |= layer.ffn == schedule::FfnKind::moe;
  }
  if (has_mlp || has_moe) {
    const std::string act = f.string("mlp_hidden_act", "relu2");
    if (act != "relu2") fail("{}: mlp_hidden_act '{}' is not supported (Nemotron-H uses relu2)", f.filename(), act);
    c.mlp_activation = MlpActivation::relu2;
    c.mlp_bias = f.boolean("mlp_bias", false);
  }
  if (has_mlp) c.intermediate_size = f.integer("intermediate_size");
  if (has_moe) {
    MoeSettings& m = c.moe;
    m.n_routed_experts = f.integer("n_routed_experts");
    m.top_k = f.integer("num_experts_per_tok");
    m.intermediate_size = f.integer("moe_intermediate_size");
    m.shared_intermediate_size =
        f.integer("n_shared_experts", 1) > 0 ? f.integer("moe_shared_expert_intermediate_size", 0) : 0;
    m.n_group = f.integer("n_group", 1);
    m.topk_group = f.integer("topk_group", 1);
    m.norm_topk_prob = f.boolean("norm_topk_prob", true);
    m.routed_scaling_factor = static_cast<float>(f.number("routed_scaling_factor", 1.0));
    m.latent_size = f.integer("moe_latent_size", 0);
    if (m.n_routed_experts <= 0 || m.top_k <= 0 || m.top_k > m.n_routed_experts)
      fail("{}: num_experts_per_tok ({}) must be between 1 and n_routed_experts ({})", f.filename(), m.top_k,
           m.n_routed_experts);
    if (m.n_group <= 0 || m.n_routed_experts % m.n_group != 0 || m.topk_group <= 0 || m.topk_group > m.n_group)
      fail("{}: n_group ({}) must divide n_routed_experts ({}) and topk_group ({}) must be in [1, n_group]",
           f.filename(), m.n_group, m.n_routed_experts, m.topk_group);
    if (m.intermediate_size <= 0) fail("{}: moe_intermediate_size must be positive", f.filename());
  }
}

}  // namespace

const FamilySpec& nemotron_h_family() {
  static const FamilySpec spec{
      .model_type = "nemotron_h",
      .summary = "Nemotron-H: Mamba2, attention, relu² MLP and MoE layers",
      .map_schedule = schedule::nemotron_h_schedule,
      .read_config = read_nemotron_h,
      .names = backbone_tensor_names({"mtp."})};
  return spec;
}

}  // namespace strata::model
