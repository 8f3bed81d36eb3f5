// ConfigFields: typed access to a config.json object with errors that name the field and the file —
// what every family's config mapping (families/<name>.cpp) reads its options through.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "strata/core/error.h"
#include "strata/schedule/schedule.h"

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
    return bounded_integer(json_[key], key);
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
      return bounded_integer(v[0], key);
    }
    return integer(key);
  }
  const nlohmann::json& json() const { return json_; }
  const std::string& filename() const { return filename_; }

 private:
  // An integer within ±kMaxConfigInteger; an unsigned one is checked before get<int64_t>, which would
  // wrap 2^64 - 1 to -1.
  int64_t bounded_integer(const nlohmann::json& v, const char* key) const {
    if (!v.is_number_integer()) fail("{}: field '{}' must be an integer, got {}", filename_, key, v.dump());
    const bool in_range = v.is_number_unsigned()
                              ? v.get<uint64_t>() <= static_cast<uint64_t>(schedule::kMaxConfigInteger)
                              : v.get<int64_t>() >= -schedule::kMaxConfigInteger && v.get<int64_t>() <= schedule::kMaxConfigInteger;
    if (!in_range)
      fail("{}: field '{}' is {}; expected an integer of magnitude at most {} (2^31 - 1)", filename_, key, v.dump(),
           schedule::kMaxConfigInteger);
    return v.get<int64_t>();
  }

  const nlohmann::json& json_;
  const std::string& filename_;
};

}  // namespace strata::model
