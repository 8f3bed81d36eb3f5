// Loads tests/fixtures/tokenizer/<style>/: the tokenizer, and the reference cases that
// tools/make_tokenizer_fixtures.py recorded with Hugging Face `tokenizers`.
#pragma once

#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "strata/tokenizer/tokenizer.h"

namespace strata::tokenizer::testing {

inline std::string fixture_dir(const std::string& style) {
  return std::string(STRATA_SOURCE_DIR) + "/tests/fixtures/tokenizer/" + style;
}

inline nlohmann::json read_json_file(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) throw std::runtime_error("cannot open " + path);
  std::stringstream buffer;
  buffer << file.rdbuf();
  return nlohmann::json::parse(buffer.str());
}

inline std::string hex_to_bytes(const std::string& hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) out.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  return out;
}

// The case's input bytes (invalid UTF-8 ones are stored as hex).
inline std::string case_text(const nlohmann::json& c) {
  return c.contains("text") ? c["text"].get<std::string>() : hex_to_bytes(c["text_hex"].get<std::string>());
}

inline std::vector<int32_t> ids_of(const nlohmann::json& list) { return list.get<std::vector<int32_t>>(); }

// Every fixture style; the parity and stream suites run on each.
inline const std::vector<std::string> kStyles = {"neox", "nemotron", "llama", "metaspace"};

}  // namespace strata::tokenizer::testing
