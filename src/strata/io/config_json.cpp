#include "strata/io/config_json.h"

#include <cctype>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>

#include <fmt/format.h>

#include "strata/core/error.h"
#include "strata/io/json_depth.h"
#include "strata/io/json_error.h"

namespace strata::io {

using nlohmann::json;

namespace {

constexpr std::string_view kFloatKey = "__float__";

bool is_word_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

// Rewrites bare Infinity / -Infinity / NaN outside string literals as {"__float__": "..."}, the form
// transformers 5 writes, so one decoder handles both.
std::string quote_non_finite(std::string_view text) {
  static constexpr std::string_view kTokens[] = {"-Infinity", "Infinity", "NaN"};
  std::string out;
  out.reserve(text.size());
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      out += c;
      if (c == '\\' && i + 1 < text.size()) {
        out += text[++i];
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
      out += c;
      continue;
    }
    bool replaced = false;
    if (i == 0 || !is_word_char(text[i - 1])) {
      for (std::string_view token : kTokens) {
        const size_t end = i + token.size();
        if (text.substr(i, token.size()) == token && (end == text.size() || !is_word_char(text[end]))) {
          out += fmt::format("{{\"{}\":\"{}\"}}", kFloatKey, token);
          i = end - 1;
          replaced = true;
          break;
        }
      }
    }
    if (!replaced) out += c;
  }
  return out;
}

void decode_floats(json& value, std::string_view filename) {
  if (value.is_object()) {
    if (value.size() == 1 && value.contains(kFloatKey)) {
      const json& encoded = value[std::string(kFloatKey)];
      const std::string text = encoded.is_string() ? encoded.get<std::string>() : encoded.dump();
      if (text == "Infinity") value = std::numeric_limits<double>::infinity();
      else if (text == "-Infinity") value = -std::numeric_limits<double>::infinity();
      else if (text == "NaN") value = std::numeric_limits<double>::quiet_NaN();
      else fail("config {}: {{\"__float__\": {}}} is not a float; expected \"Infinity\", \"-Infinity\" or \"NaN\"",
                filename, encoded.dump());
      return;
    }
    for (auto& [key, item] : value.items()) decode_floats(item, filename);
  } else if (value.is_array()) {
    for (json& item : value) decode_floats(item, filename);
  }
}

}  // namespace

json parse_config_json(std::string_view text, std::string_view filename) {
  // decode_floats walks the tree recursively: bound its depth before anything is parsed.
  if (auto too_deep = json_depth_error(text, filename)) fail("config {}", *too_deep);
  json config;
  try {
    config = json::parse(quote_non_finite(text));
  } catch (const json::exception& e) {
    fail("config {}", json_error_message(filename, e));
  }
  if (!config.is_object()) fail("config {}: top level is {}; expected a JSON object", filename, config.type_name());
  decode_floats(config, filename);
  return config;
}

json read_config_json(const std::filesystem::path& path) {
  // Regular files of a sane size only: a directory reads as nothing, /dev/zero never ends.
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec))
    fail("config '{}' is a directory; give the config.json inside it", path.string());
  if (std::filesystem::exists(path, ec) && !std::filesystem::is_regular_file(path, ec))
    fail("config '{}' is not a regular file", path.string());
  constexpr uintmax_t kMaxConfigBytes = uintmax_t{64} << 20;
  if (const uintmax_t size = std::filesystem::file_size(path, ec); !ec && size > kMaxConfigBytes)
    fail("config '{}' is {} bytes; a config.json may be at most {} bytes", path.string(), size, kMaxConfigBytes);
  std::ifstream file(path, std::ios::binary);
  if (!file) fail("cannot open config '{}'; expected a readable config.json", path.string());
  std::ostringstream text;
  text << file.rdbuf();
  if (file.bad()) fail("cannot read config '{}'", path.string());
  return parse_config_json(text.str(), path.string());
}

}  // namespace strata::io
