#include "strata/io/json_error.h"

#include <fmt/format.h>

namespace strata::io {

std::string json_error_message(std::string_view file, const nlohmann::json::exception& error) {
  std::string what = error.what();
  if (what.rfind("[json.exception.", 0) == 0) {
    const size_t end = what.find("] ");
    if (end != std::string::npos) what = what.substr(end + 2);
  }
  // "parse error at line 3, column 21: syntax error while parsing ..." → position and detail.
  long line = 0, column = 0;
  int consumed = 0;
  const size_t at = what.find("at line ");
  if (at != std::string::npos &&
      std::sscanf(what.c_str() + at, "at line %ld, column %ld: %n", &line, &column, &consumed) == 2 && consumed > 0)
    return fmt::format("{}:{}:{}: not valid JSON: {}", file, line, column, what.substr(at + static_cast<size_t>(consumed)));
  if (what.rfind("parse error: ", 0) == 0) what = what.substr(13);
  return fmt::format("{}: not valid JSON: {}", file, what);
}

}  // namespace strata::io
