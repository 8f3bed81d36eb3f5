// Zamba2 (Zamba2ForCausalLM): Mamba2 layers {input_layernorm, mamba}, and hybrid layers whose Mamba2
// decoder reads norm(hidden + linear(shared block(concat(hidden, embeddings)))). The num_mem_blocks
// shared blocks {RMSNorm over 2·hidden, attention 2·hidden wide with softmax scale (head_dim/2)^-½ and
// optional RoPE, RMSNorm, GeGLU MLP} are shared by the hybrid layers in turn; every use has its own
// low-rank adapters (MLP always, q/k/v with use_shared_attention_adapter) and its own KV cache.
#include <cmath>
#include <limits>

#include "strata/model/config_fields.h"
#include "strata/model/families/family.h"
#include "strata/model/model_config.h"

namespace strata::model {

namespace {

void read_zamba2(const ConfigFields& f, ModelConfig& c) {
  c.norm_eps = static_cast<float>(f.number("rms_norm_eps", 1e-5));
  if (!(c.norm_eps > 0.0f)) fail("{}: field 'rms_norm_eps' must be positive, got {}", f.filename(), c.norm_eps);
  c.mamba_norm_eps = 1e-5f;  // Zamba2RMSNormGated is built with eps 1e-5 whatever the config says
  c.mamba_conv_bias = f.boolean("use_conv_bias", true);
  if (f.boolean("add_bias_linear", false))
    fail("{}: field 'add_bias_linear' is true; strata runs Zamba2 checkpoints without linear biases (all published "
         "ones)", f.filename());
  c.mamba_proj_bias = false;
  c.attention_bias = false;
  c.mlp_bias = false;
  c.tie_word_embeddings = f.boolean("tie_word_embeddings", true);
  // transformers' reference (torch) path clamps dt from below at time_step_min and ignores time_step_limit.
  c.dt_min = static_cast<float>(f.number("time_step_min", 0.001));
  if (!(c.dt_min >= 0.0f)) fail("{}: field 'time_step_min' must be >= 0, got {}", f.filename(), c.dt_min);
  c.dt_max = std::numeric_limits<float>::infinity();
  const std::string act = f.string("hidden_act", "gelu");
  if (act == "gelu")
    c.mlp_activation = MlpActivation::gelu_gated;
  else if (act == "silu" || act == "swish")
    c.mlp_activation = MlpActivation::silu_gated;
  else
    fail("{}: field 'hidden_act' is '{}'; Zamba2's shared MLP runs gelu or silu", f.filename(), act);
  c.intermediate_size = f.integer("intermediate_size", 4 * c.dims.hidden_size);
  if (c.intermediate_size <= 0)
    fail("{}: field 'intermediate_size' must be positive, got {}", f.filename(), c.intermediate_size);

  bool hybrid = false;
  for (const auto& layer : c.schedule.layers) hybrid = hybrid || layer.shared_block >= 0;
  SharedBlockSettings& s = c.shared_blocks;
  s.count = f.integer("num_mem_blocks", 1);
  s.attention_adapters = f.boolean("use_shared_attention_adapter", false);
  s.activation = c.mlp_activation;
  if (hybrid) {
    const int64_t head_dim = c.dims.attention.head_dim;
    c.attention_multiplier = static_cast<float>(1.0 / std::sqrt(static_cast<double>(head_dim) / 2.0));
    // use_long_context only lengthens max_position_embeddings in transformers 5.17 (its RoPE base is
    // rope_theta as written), so strata reads rope_theta alone too.
    if (f.boolean("use_mem_rope", false)) read_rope(f, c);
  }
}

}  // namespace

// Zamba2's layers have no FFN part and no attention of their own (a hybrid layer's attention is in its
// shared block, shared_names); the rest is the common decoder layout.
TensorNames zamba2_tensor_names() {
  TensorNames names = decoder_tensor_names();
  names.ffn_norm = names.attention = names.mlp = "";
  return names;
}

const FamilySpec& zamba2_family() {
  static const FamilySpec spec{
      .model_type = "zamba2",
      .summary = "Zamba2: Mamba2 layers, and hybrid layers fed by shared attention+MLP blocks with per-use adapters",
      .map_schedule = schedule::zamba2_schedule,
      .read_config = read_zamba2,
      .names = zamba2_tensor_names()};
  return spec;
}

}  // namespace strata::model
