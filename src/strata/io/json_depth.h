// A bound on how deeply a JSON text nests its arrays and objects, checked before it is parsed: nlohmann
// parses deep nesting without recursion, but dumping, copying and our own walks of the tree recurse, so
// 100,000 '[' would overflow the stack. No real config, header or tokenizer comes near the limit.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace strata::io {

inline constexpr size_t kMaxJsonDepth = 512;

// 1-based line and column (in bytes) of a spot in a text.
struct TextPosition {
  size_t line = 1;
  size_t column = 1;
};

// Where `text` opens an array or object nested more than `max_depth` levels deep, if it does (brackets
// inside strings do not count; the text need not be valid JSON).
std::optional<TextPosition> find_excess_json_depth(std::string_view text, size_t max_depth = kMaxJsonDepth);

// "FILE:LINE:COLUMN: JSON nested more than 512 levels deep (arrays and objects); refusing it" when `text`
// nests too deeply, for callers that prefix their own context.
std::optional<std::string> json_depth_error(std::string_view text, std::string_view file,
                                            size_t max_depth = kMaxJsonDepth);

// Throws strata::Error with json_depth_error's message when `text` nests too deeply.
void check_json_depth(std::string_view text, std::string_view file, size_t max_depth = kMaxJsonDepth);

}  // namespace strata::io
