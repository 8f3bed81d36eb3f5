// One sentence for a JSON file that does not parse: "FILE:LINE:COLUMN: not valid JSON: <what the parser
// expected>", from nlohmann's "[json.exception.parse_error.101] parse error at line L, column C: ..."
// (so an editor can jump to the spot), or "FILE: not valid JSON: ..." when it gives no position.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace strata::io {

std::string json_error_message(std::string_view file, const nlohmann::json::exception& error);

}  // namespace strata::io
