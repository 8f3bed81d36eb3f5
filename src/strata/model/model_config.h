// ModelConfig: everything the forward needs from a Hugging Face config.json: the Schedule and ModelDims
// (schedule/hf_schedule.h) plus the options a family's mapping reads (families/<name>.cpp): norms, limits,
// biases, RoPE, MLP/MoE settings, token ids, and the family itself (its tensor-name table). Missing or
// mistyped fields fail naming the field and file.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "strata/kernels/activations.h"
#include "strata/kernels/moe.h"
#include "strata/kernels/rope.h"
#include "strata/schedule/hf_schedule.h"

namespace strata::model {

struct FamilySpec;

using MlpActivation = kernels::FfnActivation;

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

// Rotary position embedding of the attention layers; theta 0 = none (Nemotron-H).
struct RopeSettings {
  float theta = 0.0f;
  float partial_rotary_factor = 1.0f;  // rotary_dim = head_dim · factor (Bamba 0.5)
  kernels::RopeStyle style = kernels::RopeStyle::neox;
};

// Falcon-H1's muP multipliers (1 = none): mixer inputs, the key projection, the in_proj segments
// z, x, B, C, dt of the Mamba2 mixer, each part's output, and the MLP gate.
struct MupMultipliers {
  float attention_input = 1.0f, attention_output = 1.0f, key = 1.0f;
  float mamba_input = 1.0f, mamba_output = 1.0f;
  std::array<float, 5> mamba_projection{1.0f, 1.0f, 1.0f, 1.0f, 1.0f};
  float mlp_gate = 1.0f, mlp_output = 1.0f;
};

// Zamba2's shared transformer blocks: how many, and whether their attention has per-use adapters.
struct SharedBlockSettings {
  int64_t count = 0;              // num_mem_blocks; 0 = the family has none
  bool attention_adapters = false;  // use_shared_attention_adapter
  MlpActivation activation = MlpActivation::gelu_gated;
};

struct ModelConfig {
  const FamilySpec* family = nullptr;  // the family file that mapped this config (never null once built)
  std::string model_type;
  schedule::Schedule schedule;
  schedule::ModelDims dims;
  float norm_eps = 1e-5f;        // block RMSNorms and norm_f
  float mamba_norm_eps = 1e-5f;  // the Mamba2 gated RMSNorm
  float dt_min = 0.0f;           // time_step_limit
  float dt_max = std::numeric_limits<float>::infinity();
  bool mamba_conv_bias = true;
  bool mamba_proj_bias = false;     // in_proj (and, unless mamba_out_proj_bias says otherwise, out_proj)
  std::optional<bool> mamba_out_proj_bias;  // Falcon-H1's projectors_bias
  bool mamba_gated_norm = true;     // false: y·silu(z) without the RMSNorm (Falcon-H1 mamba_rms_norm)
  bool mamba_norm_before_gate = false;
  bool attention_bias = false;
  RopeSettings rope;
  int64_t intermediate_size = 0;
  MlpActivation mlp_activation = MlpActivation::relu2;
  bool mlp_bias = false;
  MoeSettings moe;
  bool tie_word_embeddings = false;
  // Multipliers (Granite's; 1 / 0 = none): the embeddings are scaled by embedding_multiplier, every part's
  // output by residual_multiplier before it joins the residual stream, attention scores by
  // attention_multiplier in place of 1/sqrt(head_dim), and the logits divided by logits_scaling.
  float embedding_multiplier = 1.0f;
  float residual_multiplier = 1.0f;
  float attention_multiplier = 0.0f;
  float logits_scaling = 1.0f;
  float logits_multiplier = 1.0f;  // Falcon-H1's lm_head_multiplier: logits · m
  MupMultipliers mup;
  SharedBlockSettings shared_blocks;
  kernels::RouterScoring router_scoring = kernels::RouterScoring::sigmoid;
  std::optional<int64_t> bos_token_id, eos_token_id, pad_token_id;
};

// From parsed config.json; `filename` names the source in errors. The family is chosen by model_type
// through the family registry (families/registry.cpp), the only place that dispatches on it.
ModelConfig model_config_from_json(const nlohmann::json& config, const std::string& filename);
// Reads MODEL_DIR/config.json.
ModelConfig load_model_config(const std::filesystem::path& model_dir);

}  // namespace strata::model
