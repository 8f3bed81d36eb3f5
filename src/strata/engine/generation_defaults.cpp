#include "strata/engine/generation_defaults.h"

#include <fstream>
#include <functional>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "strata/core/error.h"
#include "strata/io/json_depth.h"

namespace strata::engine {

namespace {

template <typename T>
std::optional<T> number(const nlohmann::json& j, const char* key, const std::filesystem::path& path) {
  if (!j.contains(key) || j[key].is_null()) return std::nullopt;
  if (!j[key].is_number()) fail("{}: '{}' must be a number, got {}", path.string(), key, j[key].dump());
  return j[key].get<T>();
}

}  // namespace

GenerationDefaults read_generation_defaults(const std::filesystem::path& model_dir) {
  const std::filesystem::path path = model_dir / "generation_config.json";
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) return {};
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string text = ss.str();
  io::check_json_depth(text, path.string());
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    fail("{}: not valid JSON ({})", path.string(), e.what());
  }
  if (!j.is_object()) fail("{}: expected a JSON object", path.string());
  GenerationDefaults d;
  d.temperature = number<float>(j, "temperature", path);
  d.top_p = number<float>(j, "top_p", path);
  d.min_p = number<float>(j, "min_p", path);
  d.repetition_penalty = number<float>(j, "repetition_penalty", path);
  d.top_k = number<int>(j, "top_k", path);
  return d;
}

std::string apply_generation_defaults(const GenerationDefaults& d, SamplingParams& p,
                                      const std::function<bool(const std::string&)>& given) {
  std::string summary;
  const auto field = [&](const char* key, auto& value, const auto& fallback) {
    const bool from_model = fallback.has_value() && !given(key);
    if (from_model) value = *fallback;
    summary += fmt::format("{}{} {}{}", summary.empty() ? "" : ", ", key, value, from_model ? " (generation_config.json)" : "");
  };
  field("temperature", p.temperature, d.temperature);
  field("top_k", p.top_k, d.top_k);
  field("top_p", p.top_p, d.top_p);
  field("min_p", p.min_p, d.min_p);
  field("repetition_penalty", p.repetition_penalty, d.repetition_penalty);
  return summary;
}

}  // namespace strata::engine
