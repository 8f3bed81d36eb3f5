// Bamba (BambaForCausalLM): every layer is {input_layernorm, Mamba2 or attention (at attn_layer_indices),
// pre_ff_layernorm, SwiGLU feed_forward}, with partial RoPE on the attention layers.
#include "strata/model/config_fields.h"
#include "strata/model/families/family.h"
#include "strata/model/model_config.h"

namespace strata::model {

namespace {

void read_bamba(const ConfigFields& f, ModelConfig& c) {
  c.norm_eps = static_cast<float>(f.number("rms_norm_eps", 1e-5));
  if (!(c.norm_eps > 0.0f)) fail("{}: field 'rms_norm_eps' must be positive, got {}", f.filename(), c.norm_eps);
  c.mamba_norm_eps = c.norm_eps;
  c.mamba_conv_bias = f.boolean("mamba_conv_bias", true);
  c.mamba_proj_bias = f.boolean("mamba_proj_bias", false);
  c.attention_bias = f.boolean("attention_bias", false);
  c.mlp_bias = f.boolean("mlp_bias", false);
  c.tie_word_embeddings = f.boolean("tie_word_embeddings", false);
  read_time_step_limit(f, c);
  read_rope(f, c);
  read_mlp_activation(f, "hidden_act", "silu", c);
  c.intermediate_size = f.integer("intermediate_size");
}

}  // namespace

const FamilySpec& bamba_family() {
  static const FamilySpec spec{.model_type = "bamba",
                               .summary = "Bamba: Mamba2 or attention, then a SwiGLU MLP, in every layer",
                               .map_schedule = schedule::bamba_schedule,
                               .read_config = read_bamba,
                               .names = decoder_tensor_names()};
  return spec;
}

}  // namespace strata::model
