// Config readers shared by the family files: the options several families spell the same way.
#include "strata/core/error.h"
#include "strata/model/config_fields.h"
#include "strata/model/families/family.h"
#include "strata/model/model_config.h"

namespace strata::model {

namespace {

MoeNames nemotron_moe_names() {
  MoeNames names;
  names.shared = "mixer.shared_experts.";
  return names;
}

}  // namespace

TensorNames backbone_tensor_names(std::vector<std::string> ignored_prefixes) {
  return TensorNames{.embeddings = {"backbone.embeddings.weight", "backbone.embedding.weight"},
                     .final_norm = "backbone.norm_f.weight",
                     .lm_head = "lm_head.weight",
                     .layer = "backbone.layers.{}.",
                     .mixer_norm = "norm.weight",
                     .ffn_norm = "norm.weight",  // one part per layer, so one norm
                     .mamba = "mixer.",
                     .attention = "mixer.",
                     .mlp = "mixer.",
                     .moe = "mixer.",
                     .mlp_names = {},
                     .moe_names = nemotron_moe_names(),
                     .shared_names = {},
                     .ignored_prefixes = std::move(ignored_prefixes)};
}

TensorNames decoder_tensor_names() {
  return TensorNames{.embeddings = {"model.embed_tokens.weight"},
                     .final_norm = "model.final_layernorm.weight",
                     .lm_head = "lm_head.weight",
                     .layer = "model.layers.{}.",
                     .mixer_norm = "input_layernorm.weight",
                     .ffn_norm = "pre_ff_layernorm.weight",
                     .mamba = "mamba.",
                     .attention = "self_attn.",
                     .mlp = "feed_forward.",
                     .moe = "",
                     .mlp_names = {},
                     .moe_names = {},
                     .shared_names = {},
                     .ignored_prefixes = {}};
}

void read_decoder_options(const ConfigFields& f, ModelConfig& c) {
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
}

void read_time_step_limit(const ConfigFields& f, ModelConfig& c) {
  if (!f.has("time_step_limit")) return;
  const auto& v = f.json()["time_step_limit"];
  if (!v.is_array() || v.size() != 2 || !v[0].is_number() || !v[1].is_number())
    fail("{}: field 'time_step_limit' must be [min, max], got {}", f.filename(), v.dump());
  c.dt_min = static_cast<float>(v[0].get<double>());
  c.dt_max = static_cast<float>(v[1].get<double>());
  if (!(c.dt_min >= 0.0f) || !(c.dt_max > c.dt_min))
    fail("{}: field 'time_step_limit' must satisfy 0 <= min < max, got {}", f.filename(), v.dump());
}

void read_rope(const ConfigFields& f, ModelConfig& c) {
  // transformers 5 writes rope_parameters {rope_type, rope_theta, partial_rotary_factor}; hub configs of
  // earlier releases write rope_theta / partial_rotary_factor / rope_scaling at the top level.
  const nlohmann::json empty = nlohmann::json::object();
  const nlohmann::json& params = f.has("rope_parameters") ? f.json()["rope_parameters"] : empty;
  if (!params.is_object())
    fail("{}: field 'rope_parameters' must be an object, got {}", f.filename(), params.dump());
  const ConfigFields p(params, f.filename());
  c.rope.theta = static_cast<float>(p.has("rope_theta") ? p.number("rope_theta") : f.number("rope_theta", 10000.0));
  c.rope.partial_rotary_factor = static_cast<float>(
      p.has("partial_rotary_factor") ? p.number("partial_rotary_factor") : f.number("partial_rotary_factor", 1.0));
  if (!(c.rope.theta > 0.0f)) fail("{}: field 'rope_theta' must be positive, got {}", f.filename(), c.rope.theta);
  if (!(c.rope.partial_rotary_factor > 0.0f && c.rope.partial_rotary_factor <= 1.0f))
    fail("{}: field 'partial_rotary_factor' must be in (0, 1], got {}", f.filename(), c.rope.partial_rotary_factor);
  const int64_t head_dim = c.dims.attention.head_dim;
  const int64_t rotary = static_cast<int64_t>(static_cast<double>(head_dim) * c.rope.partial_rotary_factor);
  if (head_dim > 0 && (rotary < 2 || rotary % 2 != 0))
    fail("{}: partial_rotary_factor {} of head_dim {} gives {} rotary dimensions; expected an even number >= 2",
         f.filename(), c.rope.partial_rotary_factor, head_dim, rotary);
  const std::string type = p.string("rope_type", "default");
  if (type != "default")
    fail("{}: rope_parameters.rope_type '{}' is not supported yet (strata runs unscaled RoPE)", f.filename(), type);
  if (f.has("rope_scaling")) {
    const auto& scaling = f.json()["rope_scaling"];
    const bool plain = scaling.is_object() && scaling.size() == 1 &&
                       scaling.value("rope_type", scaling.value("type", std::string())) == "default";
    if (!plain)
      fail("{}: field 'rope_scaling' {} is not supported yet (strata runs unscaled RoPE)", f.filename(),
           scaling.dump());
  }
  c.rope.style = kernels::RopeStyle::neox;
}

void read_mlp_activation(const ConfigFields& f, const char* key, const char* fallback, ModelConfig& c) {
  const std::string act = f.string(key, fallback);
  if (act == "relu2")
    c.mlp_activation = MlpActivation::relu2;
  else if (act == "silu" || act == "swish")
    c.mlp_activation = MlpActivation::silu_gated;
  else if (act == "gelu")
    c.mlp_activation = MlpActivation::gelu;
  else
    fail("{}: field '{}' is '{}'; strata runs relu2, silu (SwiGLU) and gelu", f.filename(), key, act);
}

}  // namespace strata::model
