// Mamba2 (state-spaces/mamba2-*, Mamba-Codestral): a stack of Mamba2 mixers, each block {norm, mixer},
// with HF (Mamba2ForCausalLM) or mamba_ssm config keys and tensor names.
#include "strata/model/config_fields.h"
#include "strata/model/families/family.h"
#include "strata/model/model_config.h"

namespace strata::model {

namespace {

void read_mamba2(const ConfigFields& f, ModelConfig& c) {
  c.norm_eps = static_cast<float>(f.number("layer_norm_epsilon", 1e-5));
  c.mamba_norm_eps = c.norm_eps;
  c.mamba_conv_bias = f.boolean("use_conv_bias", true);
  c.mamba_proj_bias = f.boolean("use_bias", false);
  // mamba_ssm configs say tie_embeddings; HF ones tie_word_embeddings (default true for Mamba2).
  c.tie_word_embeddings = f.boolean("tie_word_embeddings", f.boolean("tie_embeddings", true));
  read_time_step_limit(f, c);
}

}  // namespace

const FamilySpec& mamba2_family() {
  static const FamilySpec spec{
      .model_type = "mamba2",
      .summary = "Mamba2: Mamba2 mixers only",
      .map_schedule = schedule::mamba2_schedule,
      .read_config = read_mamba2,
      .names = backbone_tensor_names({})};
  return spec;
}

}  // namespace strata::model
