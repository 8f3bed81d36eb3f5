// The sampling defaults a checkpoint ships in generation_config.json (temperature, top_k, top_p, min_p,
// repetition_penalty), which `strata run` uses where no flag was given — as vLLM does by default. Like
// vLLM, do_sample is not consulted: a model that ships a temperature is sampled at it.
#pragma once

#include <filesystem>
#include <functional>
#include <optional>
#include <string>

#include "strata/engine/sampling_params.h"

namespace strata::engine {

struct GenerationDefaults {
  std::optional<float> temperature, top_p, min_p, repetition_penalty;
  std::optional<int> top_k;
};

// Reads model_dir/generation_config.json; no file gives no defaults. Throws strata::Error naming the file
// (and the field) for malformed JSON or a value of the wrong type.
GenerationDefaults read_generation_defaults(const std::filesystem::path& model_dir);

// Sets every field of `params` that has a default and `given(name)` says no flag set, where name is the
// generation_config key; returns a summary of the values in force ("temperature 0.6 (generation_config)").
std::string apply_generation_defaults(const GenerationDefaults& defaults, SamplingParams& params,
                                      const std::function<bool(const std::string&)>& given);

}  // namespace strata::engine
