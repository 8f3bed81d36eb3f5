#include "strata/io/json_depth.h"

#include <fmt/format.h>

#include "strata/core/error.h"

namespace strata::io {

std::optional<TextPosition> find_excess_json_depth(std::string_view text, size_t max_depth) {
  size_t depth = 0;
  size_t line = 1;
  size_t line_start = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '\n') {
      ++line;
      line_start = i + 1;
    }
    if (in_string) {
      if (c == '\\') ++i;  // an escaped quote does not end the string
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > max_depth) return TextPosition{line, i - line_start + 1};
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return std::nullopt;
}

std::optional<std::string> json_depth_error(std::string_view text, std::string_view file, size_t max_depth) {
  const auto at = find_excess_json_depth(text, max_depth);
  if (!at) return std::nullopt;
  return fmt::format("{}:{}:{}: JSON nested more than {} levels deep (arrays and objects); refusing it", file,
                     at->line, at->column, max_depth);
}

void check_json_depth(std::string_view text, std::string_view file, size_t max_depth) {
  if (auto message = json_depth_error(text, file, max_depth)) fail("{}", *message);
}

}  // namespace strata::io
