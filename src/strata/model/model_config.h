// ModelConfig: everything the forward needs from a Hugging Face config.json, for the families strata
// runs (mamba2, nemotron_h): the Schedule and ModelDims from schedule/hf_schedule.h plus norms, limits,
// biases, MLP/MoE settings and token ids. Missing or mistyped fields fail naming the field and file.
#pragma once

#include <cstdint>
#include <filesystem>
#include <limits>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "strata/model/mlp_layer.h"
#include "strata/schedule/hf_schedule.h"

namespace strata::model {

enum class Family : uint8_t { mamba2, nemotron_h };

struct MoeSettings {
  int64_t n_routed_experts = 0;
  int64_t top_k = 0;
  int64_t intermediate_size = 0;
  int64_t shared_intermediate_size = 0;  // 0 = no shared expert
  int64_t n_group = 1;
  int64_t topk_group = 1;
  bool norm_topk_prob = true;
  float routed_scaling_factor = 1.0f;
  int64_t latent_size = 0;  // 0 = no latent projections
};

struct ModelConfig {
  Family family = Family::mamba2;
  std::string model_type;
  schedule::Schedule schedule;
  schedule::ModelDims dims;

  float norm_eps = 1e-5f;        // block RMSNorms and norm_f
  float mamba_norm_eps = 1e-5f;  // the Mamba2 gated RMSNorm
  float dt_min = 0.0f;           // time_step_limit
  float dt_max = std::numeric_limits<float>::infinity();
  bool mamba_conv_bias = true;
  bool mamba_proj_bias = false;
  bool attention_bias = false;
  float rope_theta = 0.0f;  // 0: no positional encoding (Nemotron-H)
  int64_t intermediate_size = 0;
  MlpActivation mlp_activation = MlpActivation::relu2;
  bool mlp_bias = false;
  MoeSettings moe;
  bool tie_word_embeddings = false;
  std::optional<int64_t> bos_token_id, eos_token_id, pad_token_id;
};

// From parsed config.json; `filename` names the source in errors.
ModelConfig model_config_from_json(const nlohmann::json& config, const std::string& filename);
// Reads MODEL_DIR/config.json.
ModelConfig load_model_config(const std::filesystem::path& model_dir);

std::string_view family_name(Family family);

}  // namespace strata::model
