// Field access for tokenizer.json / tokenizer_config.json that fails with the file and the field path
// ("tokenizer.json (/path): model.merges[3]: expected ...") instead of nlohmann's generic messages.
// Internal to the tokenizer module.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>

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

// A token's id from model.vocab or added_tokens: a non-negative integer below twice the number of tokens
// the file defines (vocab entries plus added tokens) plus 1024. Real tokenizers number their tokens
// densely or nearly so; the bound keeps every id-indexed table within a small multiple of the file, so
// no table is ever sized by a hostile id such as 2^31 - 1 or 4294967296.
inline int32_t token_id_field(const Json& id, size_t defined_tokens, const std::string& where, std::string_view token) {
  const size_t limit = std::min<size_t>(2 * defined_tokens + 1024, size_t{INT32_MAX});
  const bool in_range = id.is_number_unsigned() ? id.get<uint64_t>() < limit
                        : id.is_number_integer() ? id.get<int64_t>() >= 0 && static_cast<uint64_t>(id.get<int64_t>()) < limit
                                                 : false;
  if (!in_range)
    fail("{}: token \"{}\" has id {}; expected an integer from 0 to {} (twice the {} tokens the file defines in "
         "model.vocab and added_tokens, plus 1024)", where, token, id.dump(), limit - 1, defined_tokens);
  return static_cast<int32_t>(id.get<int64_t>());
}

// The "type" of a component object.
inline std::string type_field(const Json& object, const std::string& where) {
  return string_field(object, "type", where);
}

}  // namespace strata::tokenizer
