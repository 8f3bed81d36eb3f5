// A Schedule and ModelDims from a Hugging Face config.json, without weights, for every family strata
// runs: config.json's model_type picks the family (families/registry.cpp, the one dispatch on it) and
// the family maps the layout. mamba_ssm's own configs carry no model_type and are taken as Mamba2.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "strata/schedule/hf_schedule.h"

namespace strata::model {

// Throws strata::Error naming `filename` and the field when the config is not one strata can run.
schedule::HfModel schedule_from_hf_config(const nlohmann::json& config, std::string_view filename);
// Reads and parses the file at `path` (io/config_json.h); throws strata::Error if it cannot be read.
schedule::HfModel load_hf_config(const std::string& path);

}  // namespace strata::model
