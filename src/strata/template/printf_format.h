// Python's printf-style formatting (`'%s: %d' % (a, b)` and the `format` filter): conversions s r d i u f F
// e E g G x X o c and %%, with flags, width and precision. Mapping keys (`%(name)s`) and `*` widths are not
// supported; a literal format string is checked when the template loads.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "strata/template/call_args.h"
#include "strata/template/value.h"

namespace strata::jinja {

// Why `format` cannot be used, or nullopt if strata can apply it.
std::optional<std::string> check_printf_format(std::string_view format);

// format % args, where `args` is a tuple of values or a single value.
std::string python_printf(std::string_view format, const Value& args, const BuildLimits& limits);

}  // namespace strata::jinja
