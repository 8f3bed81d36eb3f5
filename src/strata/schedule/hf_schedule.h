// A Schedule and ModelDims from a Hugging Face config.json, without weights: model_type "nemotron_h"
// (hybrid_override_pattern or layers_block_type, MTP fields) and "mamba2" (HF keys, or mamba_ssm's
// d_model/n_layer/ssm_cfg). Also parse_config_json(), which accepts Python's bare Infinity/NaN.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "strata/schedule/schedule.h"

namespace strata::schedule {

// Parses config.json text. Python's json.dumps writes bare `Infinity`, `-Infinity` and `NaN` (e.g.
// "time_step_limit": [0.0, Infinity]) and transformers 5 writes {"__float__": "Infinity"}; both come
// back as float numbers (inf / nan). Throws strata::Error naming `filename` on malformed JSON, on an
// unknown __float__ value, and when the top level is not an object.
nlohmann::json parse_config_json(std::string_view text, std::string_view filename);

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
