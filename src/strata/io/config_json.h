// config.json as Hugging Face writes it: Python's json.dumps emits bare `Infinity`, `-Infinity` and `NaN`
// (e.g. "time_step_limit": [0.0, Infinity]) and transformers 5 writes {"__float__": "Infinity"}; both
// come back as JSON numbers (inf / nan). Errors name the file.
#pragma once

#include <filesystem>
#include <string_view>

#include <nlohmann/json.hpp>

namespace strata::io {

// Parses config.json text. Throws strata::Error naming `filename` on malformed JSON, on an unknown
// __float__ value, and when the top level is not an object.
nlohmann::json parse_config_json(std::string_view text, std::string_view filename);

// Reads and parses the file; throws strata::Error naming it if it cannot be read.
nlohmann::json read_config_json(const std::filesystem::path& path);

}  // namespace strata::io
