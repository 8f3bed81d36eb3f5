// A Schedule and ModelDims from a Hugging Face config.json, without weights, per family: Nemotron-H
// (hybrid_override_pattern or layers_block_type, MTP fields) and Mamba2 (HF keys, or mamba_ssm's
// d_model/n_layer/ssm_cfg). The JSON itself is parsed by io/config_json.h.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "strata/schedule/schedule.h"

namespace strata::schedule {


struct HfModel {
  std::string model_type;  // "nemotron_h" or "mamba2"
  Schedule schedule;
  ModelDims dims;  // state/cache dtypes left at their defaults (f32 / bf16)
};

// The schedule mappings of the families strata runs, pure functions of config.json: model/families/
// picks one by model_type (model/hf_config.h). Each throws strata::Error naming the field and `filename`
// when a required field is missing or has the wrong type, or when the layout is inconsistent (pattern
// length vs num_hidden_layers, ...), and validates the dims against the schedule.
HfModel nemotron_h_schedule(const nlohmann::json& config, std::string_view filename);
// Granite-4.0-H (GraniteMoeHybrid): layer_types mamba|attention (or linear_attention|full_attention), every
// layer {mixer, MoE with a shared MLP} or, with num_local_experts 0, {mixer, MLP}.
HfModel granite_hybrid_schedule(const nlohmann::json& config, std::string_view filename);
// Bamba: attention at attn_layer_indices, Mamba2 elsewhere, every layer {mixer, MLP}.
HfModel bamba_schedule(const nlohmann::json& config, std::string_view filename);
// Falcon-H1: every layer attention ‖ Mamba2 (mamba_d_ssm inner width, mamba_n_heads, mamba_d_head), then an MLP.
HfModel falcon_h1_schedule(const nlohmann::json& config, std::string_view filename);
// Zamba2: layers_block_type mamba | hybrid; hybrid layers apply shared block (hybrid index mod
// num_mem_blocks) over concat(hidden, embeddings), whose attention is 2·hidden wide.
HfModel zamba2_schedule(const nlohmann::json& config, std::string_view filename);
// HF Mamba2Config keys, or mamba_ssm's MambaConfig (d_model / n_layer / ssm_cfg / attn_layer_idx).
HfModel mamba2_schedule(const nlohmann::json& config, std::string_view filename);

}  // namespace strata::schedule
