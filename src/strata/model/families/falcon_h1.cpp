// Falcon-H1 (FalconH1ForCausalLM): every layer is {input_layernorm, attention ‖ Mamba2 on the same normed
// input (summed), pre_ff_layernorm, SwiGLU feed_forward}, with RoPE and the muP multipliers: embedding,
// lm_head, attention in/out and key, SSM in/out and one per in_proj segment (ssm_multipliers on z, x, B,
// C, dt), MLP gate and down. The Mamba2 output norm is optional (mamba_rms_norm) and may normalise
// before the gate (mamba_norm_before_gate); the inner width may be set apart from the hidden size
// (mamba_d_ssm). Every multiplier runs as a scale on activations, so bf16 weights stay as stored.
#include <cmath>

#include "strata/model/config_fields.h"
#include "strata/model/families/family.h"
#include "strata/model/model_config.h"

namespace strata::model {

namespace {

float finite(const ConfigFields& f, const char* key, double fallback) {
  const double v = f.number(key, fallback);
  if (!std::isfinite(v) || v == 0.0) fail("{}: field '{}' must be a finite non-zero number, got {}", f.filename(), key, v);
  return static_cast<float>(v);
}

// A list of `n` finite numbers (all 1 when absent).
template <size_t N>
std::array<float, N> multipliers(const ConfigFields& f, const char* key, const char* meaning) {
  std::array<float, N> out;
  out.fill(1.0f);
  if (!f.has(key)) return out;
  const auto& v = f.json()[key];
  if (!v.is_array() || v.size() != N)
    fail("{}: field '{}' must be a list of {} numbers ({}), got {}", f.filename(), key, N, meaning, v.dump());
  for (size_t i = 0; i < N; ++i) {
    if (!v[i].is_number() || !std::isfinite(v[i].get<double>()))
      fail("{}: {}[{}] must be a finite number, got {}", f.filename(), key, i, v[i].dump());
    out[i] = static_cast<float>(v[i].get<double>());
  }
  return out;
}

void read_falcon_h1(const ConfigFields& f, ModelConfig& c) {
  read_decoder_options(f, c);
  c.mamba_out_proj_bias = f.boolean("projectors_bias", false);
  c.mamba_gated_norm = f.boolean("mamba_rms_norm", false);
  c.mamba_norm_before_gate = f.boolean("mamba_norm_before_gate", true);
  if (c.mlp_activation != MlpActivation::silu_gated)
    fail("{}: field 'hidden_act' must be \"silu\" (Falcon-H1's MLP is SwiGLU)", f.filename());
  c.intermediate_size = f.integer("intermediate_size");
  if (c.intermediate_size <= 0)
    fail("{}: field 'intermediate_size' must be positive, got {}", f.filename(), c.intermediate_size);

  c.embedding_multiplier = finite(f, "embedding_multiplier", 1.0);
  c.logits_multiplier = finite(f, "lm_head_multiplier", 1.0);
  MupMultipliers& m = c.mup;
  m.attention_input = finite(f, "attention_in_multiplier", 1.0);
  m.attention_output = finite(f, "attention_out_multiplier", 1.0);
  m.key = finite(f, "key_multiplier", 1.0);
  m.mamba_input = finite(f, "ssm_in_multiplier", 1.0);
  m.mamba_output = finite(f, "ssm_out_multiplier", 1.0);
  m.mamba_projection = multipliers<5>(f, "ssm_multipliers", "z, x, B, C, dt");
  const std::array<float, 2> mlp = multipliers<2>(f, "mlp_multipliers", "gate, down");
  m.mlp_gate = mlp[0];
  m.mlp_output = mlp[1];
}

}  // namespace

const FamilySpec& falcon_h1_family() {
  static const FamilySpec spec{
      .model_type = "falcon_h1",
      .summary = "Falcon-H1: attention and Mamba2 in parallel, then a SwiGLU MLP, in every layer (muP multipliers)",
      .map_schedule = schedule::falcon_h1_schedule,
      .read_config = read_falcon_h1,
      .names = decoder_tensor_names()};
  return spec;
}

}  // namespace strata::model
