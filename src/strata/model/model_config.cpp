#include "strata/model/model_config.h"

#include <cmath>

#include "strata/core/error.h"
#include "strata/io/config_json.h"
#include "strata/model/config_fields.h"
#include "strata/model/families/family.h"
#include "strata/model/hf_config.h"

namespace strata::model {

namespace {

// Every float and size the families read, checked once for the range it must lie in: a NaN, negative or
// infinite epsilon or multiplier would otherwise load and give NaN or all-zero logits with exit 0.
void check_ranges(const ModelConfig& c, const std::string& file) {
  const auto finite = [&](float v, const char* what) {
    if (!std::isfinite(v)) fail("{}: {} is {}; expected a finite number", file, what, v);
  };
  const auto epsilon = [&](float v, const char* what) {
    if (!(std::isfinite(v) && v > 0.0f && v < 1.0f)) fail("{}: {} is {}; expected a finite value in (0, 1)", file, what, v);
  };
  epsilon(c.norm_eps, "the RMSNorm epsilon (layer_norm_epsilon / rms_norm_eps)");
  epsilon(c.mamba_norm_eps, "the Mamba2 gated-norm epsilon");
  if (!(std::isfinite(c.dt_min) && c.dt_min >= 0.0f) || std::isnan(c.dt_max) || !(c.dt_max >= c.dt_min))
    fail("{}: time_step_limit ({}, {}) must satisfy 0 <= min <= max", file, c.dt_min, c.dt_max);
  if (!(std::isfinite(c.rope.theta) && c.rope.theta >= 0.0f)) fail("{}: rope_theta is {}; expected a finite value >= 0", file, c.rope.theta);
  if (!(c.rope.partial_rotary_factor > 0.0f && c.rope.partial_rotary_factor <= 1.0f))
    fail("{}: partial_rotary_factor is {}; expected a value in (0, 1]", file, c.rope.partial_rotary_factor);
  if (c.intermediate_size < 0) fail("{}: intermediate_size is {}; expected >= 0", file, c.intermediate_size);
  if (c.moe.n_routed_experts < 0 || c.moe.top_k < 0 || c.moe.intermediate_size < 0 || c.moe.shared_intermediate_size < 0 ||
      c.moe.latent_size < 0)
    fail("{}: MoE sizes must be >= 0 (n_routed_experts {}, num_experts_per_tok {}, moe_intermediate_size {})", file,
         c.moe.n_routed_experts, c.moe.top_k, c.moe.intermediate_size);
  finite(c.moe.routed_scaling_factor, "routed_scaling_factor");
  finite(c.embedding_multiplier, "embedding_multiplier");
  finite(c.residual_multiplier, "residual_multiplier");
  if (!(std::isfinite(c.attention_multiplier) && c.attention_multiplier >= 0.0f))
    fail("{}: attention_multiplier is {}; expected a finite value >= 0", file, c.attention_multiplier);
  if (!(std::isfinite(c.logits_scaling) && c.logits_scaling != 0.0f))
    fail("{}: logits_scaling is {}; expected a finite, non-zero value", file, c.logits_scaling);
  finite(c.logits_multiplier, "lm_head_multiplier");
  for (float m : {c.mup.attention_input, c.mup.attention_output, c.mup.key, c.mup.mamba_input, c.mup.mamba_output,
                  c.mup.mlp_gate, c.mup.mlp_output})
    finite(m, "a muP multiplier");
  for (float m : c.mup.mamba_projection) finite(m, "an ssm_multipliers entry");
}

}  // namespace

ModelConfig model_config_from_json(const nlohmann::json& json, const std::string& filename) {
  schedule::HfModel hf = schedule_from_hf_config(json, filename);
  ModelConfig c;
  c.model_type = hf.model_type;
  c.schedule = std::move(hf.schedule);
  c.dims = hf.dims;
  c.family = &family_for(c.model_type, filename);
  const ConfigFields f(json, filename);
  c.family->read_config(f, c);
  c.bos_token_id = f.optional_token("bos_token_id");
  c.eos_token_id = f.optional_token("eos_token_id");
  c.pad_token_id = f.optional_token("pad_token_id");
  check_ranges(c, filename);
  return c;
}

ModelConfig load_model_config(const std::filesystem::path& model_dir) {
  const std::filesystem::path path = model_dir / "config.json";
  if (!std::filesystem::is_regular_file(path))
    fail("{}: cannot read the model config (is {} a model directory?)", path.string(), model_dir.string());
  return model_config_from_json(io::read_config_json(path), path.string());
}

}  // namespace strata::model
