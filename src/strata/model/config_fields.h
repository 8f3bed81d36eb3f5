// ConfigFields: typed access to a config.json object with errors that name the field and the file —
// what every family's config mapping (families/<name>.cpp) reads its options through.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "strata/core/error.h"

namespace strata::model {

// Typed field access with errors that name the field and the file.
class ConfigFields {
 public:
  ConfigFields(const nlohmann::json& json, const std::string& filename) : json_(json), filename_(filename) {}

  bool has(const char* key) const { return json_.contains(key) && !json_[key].is_null(); }

  double number(const char* key, std::optional<double> fallback = std::nullopt) const {
    if (!has(key)) {
      if (fallback) return *fallback;
      fail("{}: missing required field '{}'", filename_, key);
    }
    const auto& v = json_[key];
    if (!v.is_number()) fail("{}: field '{}' must be a number, got {}", filename_, key, v.dump());
    return v.get<double>();
  }
  int64_t integer(const char* key, std::optional<int64_t> fallback = std::nullopt) const {
    if (!has(key)) {
      if (fallback) return *fallback;
      fail("{}: missing required field '{}'", filename_, key);
    }
    const auto& v = json_[key];
    if (!v.is_number_integer()) fail("{}: field '{}' must be an integer, got {}", filename_, key, v.dump());
    return v.get<int64_t>();
  }
  bool boolean(const char* key, bool fallback) const {
    if (!has(key)) return fallback;
    const auto& v = json_[key];
    if (!v.is_boolean()) fail("{}: field '{}' must be true or false, got {}", filename_, key, v.dump());
    return v.get<bool>();
  }
  std::string string(const char* key, const std::string& fallback) const {
    if (!has(key)) return fallback;
    const auto& v = json_[key];
    if (!v.is_string()) fail("{}: field '{}' must be a string, got {}", filename_, key, v.dump());
    return v.get<std::string>();
  }
  std::optional<int64_t> optional_token(const char* key) const {
    if (!has(key)) return std::nullopt;
    const auto& v = json_[key];
    if (v.is_array()) {  // some configs list several EOS ids; the first is the canonical one
      if (v.empty()) return std::nullopt;
      if (!v[0].is_number_integer()) fail("{}: field '{}' must hold integers, got {}", filename_, key, v.dump());
      return v[0].get<int64_t>();
    }
    return integer(key);
  }
  const nlohmann::json& json() const { return json_; }
  const std::string& filename() const { return filename_; }

 private:
  const nlohmann::json& json_;
  const std::string& filename_;
};

}  // namespace strata::model
