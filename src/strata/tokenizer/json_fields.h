// Field access for tokenizer.json / tokenizer_config.json that fails with the file and the field path
// ("tokenizer.json (/path): model.merges[3]: expected ...") instead of nlohmann's generic messages.
// Internal to the tokenizer module.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "strata/core/error.h"

namespace strata::tokenizer {

using Json = nlohmann::json;

inline const Json& require_field(const Json& object, const char* key, const std::string& where) {
  if (!object.is_object()) fail("{}: expected an object", where);
  auto it = object.find(key);
  if (it == object.end()) fail("{}: missing field '{}'", where, key);
  return *it;
}

inline std::string string_field(const Json& object, const char* key, const std::string& where) {
  const Json& value = require_field(object, key, where);
  if (!value.is_string()) fail("{}.{}: expected a string, got {}", where, key, value.type_name());
  return value.get<std::string>();
}

inline bool bool_field(const Json& object, const char* key, bool fallback, const std::string& where) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return fallback;
  if (!it->is_boolean()) fail("{}.{}: expected true or false, got {}", where, key, it->type_name());
  return it->get<bool>();
}

// The "type" of a component object.
inline std::string type_field(const Json& object, const std::string& where) {
  return string_field(object, "type", where);
}

}  // namespace strata::tokenizer
