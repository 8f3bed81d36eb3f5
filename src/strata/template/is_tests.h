// Jinja2's tests (`x is defined`, `x is divisibleby 3`, `selectattr('a', 'equalto', 1)`): all of Jinja2's
// built-in tests, with Python's quirks kept (an Undefined is a "sequence" and "iterable", bool is a
// "number" but not an "integer").
#pragma once

#include <string>
#include <string_view>

#include "strata/template/call_args.h"
#include "strata/template/value.h"

namespace strata::jinja {

bool is_supported_test(std::string_view name);
bool apply_test(const std::string& name, const Value& value, const CallArgs& args);

}  // namespace strata::jinja
