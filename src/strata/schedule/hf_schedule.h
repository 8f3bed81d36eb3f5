// A Schedule and ModelDims from a Hugging Face config.json, without weights: model_type "nemotron_h"
// (hybrid_override_pattern or layers_block_type, MTP fields) and "mamba2" (HF keys, or mamba_ssm's
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

// Throws strata::Error naming the field and `filename` when a required field is missing or has the
// wrong type, or when the layout is inconsistent (pattern length vs num_hidden_layers, ...).
HfModel schedule_from_hf_config(const nlohmann::json& config, std::string_view filename);

// Reads and parses the file at `path`; throws strata::Error if it cannot be read.
HfModel load_hf_config(const std::string& path);

}  // namespace strata::schedule
