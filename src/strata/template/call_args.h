// Evaluated call arguments and Python-style binding of them to a parameter list, shared by filters, tests,
// methods and globals: positional then keyword, too many or unknown arguments are errors, as Python raises.
#pragma once

#include <cstddef>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "strata/template/value.h"

namespace strata::jinja {

struct CallArgs {
  std::vector<Value> positional;
  std::vector<std::pair<std::string, Value>> keyword;
  bool empty() const { return positional.empty() && keyword.empty(); }
};

// What functions that build strings need to know of the render's limits.
struct BuildLimits {
  std::size_t max_string_bytes = 0;
};

// Binds `args` to `params` in order; a parameter not given is nullopt. `callee` names the function in errors.
std::vector<std::optional<Value>> bind_args(std::string_view callee, const CallArgs& args,
                                            std::initializer_list<std::string_view> params);

// Argument helpers that raise Python-like type errors.
std::int64_t int_arg(std::string_view callee, std::string_view param, const Value& v);
std::string string_arg(std::string_view callee, std::string_view param, const Value& v);

// Throws EvalError when a string being built would exceed the render's size limit.
void check_string_size(std::size_t bytes, const BuildLimits& limits);

}  // namespace strata::jinja
