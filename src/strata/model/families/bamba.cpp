// Bamba (BambaForCausalLM): every layer is {input_layernorm, Mamba2 or attention (at attn_layer_indices),
// pre_ff_layernorm, SwiGLU feed_forward}, with partial RoPE on the attention layers.
#include "strata/model/config_fields.h"
#include "strata/model/families/family.h"
#include "strata/model/model_config.h"

namespace strata::model {

namespace {

void read_bamba(const ConfigFields& f, ModelConfig& c) {
  read_decoder_options(f, c);
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
