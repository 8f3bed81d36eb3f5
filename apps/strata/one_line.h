// The CLI's promise of one `error:` line: user text echoed in a message (a path, a model_type, a tensor
// name) may hold newlines or control bytes, which are escaped (\n, \t, \xNN) before printing.
#pragma once

#include <string>
#include <string_view>

namespace strata::cli {

std::string one_line(std::string_view message);

}  // namespace strata::cli
