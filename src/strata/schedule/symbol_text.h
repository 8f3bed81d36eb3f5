// How pattern text is cut into symbols and quoted in error messages. Megatron (Python) iterates code
// points, so a pattern is split into UTF-8 code points (an invalid byte counts as one); control characters
// are escaped so an error stays on one line.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace strata::schedule {

// The UTF-8 code points of `text`, each as a view into it.
std::vector<std::string_view> code_points(std::string_view text);

// A code point as it should appear between quotes in a message: printable text as is, control bytes and
// invalid UTF-8 as \n, \t, \xNN.
std::string quote_symbol(std::string_view code_point);

}  // namespace strata::schedule
