// Python's json.dumps, which transformers' `tojson` filter calls (ensure_ascii=False by default, indent,
// separators, sort_keys). Matching it byte for byte matters: tool schemas are pasted into prompts with it.
// Dict order is kept, floats print as repr(), NaN/Infinity as Python writes them, and values json.dumps
// refuses (Undefined, generators, ranges, namespaces) are an EvalError.
#pragma once

#include <optional>
#include <string>

#include "strata/template/value.h"

namespace strata::jinja {

struct JsonDumpOptions {
  bool ensure_ascii = false;
  std::optional<std::string> indent;  // json.dumps(indent=...): none for one line; a count becomes spaces
  std::optional<std::string> item_separator;  // default ", " on one line, "," when indenting
  std::string key_separator = ": ";
  bool sort_keys = false;
};

std::string python_json_dumps(const Value& value, const JsonDumpOptions& options);

}  // namespace strata::jinja
