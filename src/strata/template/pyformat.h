// How Python prints values, which is what `{{ x }}`, `|string`, `~` and `|join` produce: str() of a value,
// and repr() for items inside containers ("['a', 1, None, True]", floats as CPython's shortest round-trip
// repr, strings quoted and escaped as repr() does). Values Jinja2 would print as a memory address
// (generators, functions) cannot be reproduced, so printing them is an EvalError.
#pragma once

#include <string>
#include <string_view>

#include "strata/template/value.h"

namespace strata::jinja {

std::string to_str(const Value& v);           // str(v); Undefined prints as ""
std::string to_repr(const Value& v);          // repr(v)
std::string float_repr(double d);             // repr(float): "1.0", "0.1", "1e+16", "1e-05", "inf", "nan"
std::string string_repr(std::string_view s);  // repr(str): '...' or "..." with Python's escapes
// markupsafe.escape: & < > ' " as HTML entities (the escape filter, and what a Markup does to a str added to
// it).
std::string html_escape(std::string_view s);

}  // namespace strata::jinja
