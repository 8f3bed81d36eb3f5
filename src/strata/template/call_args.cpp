#include "strata/template/call_args.h"

#include <algorithm>

namespace strata::jinja {

std::vector<std::optional<Value>> bind_args(std::string_view callee, const CallArgs& args,
                                            std::initializer_list<std::string_view> params) {
  std::vector<std::optional<Value>> bound(params.size());
  if (args.positional.size() > params.size()) {
    eval_fail("{}() takes at most {} argument(s) ({} given)", callee, params.size(), args.positional.size());
  }
  for (std::size_t i = 0; i < args.positional.size(); ++i) bound[i] = args.positional[i];
  for (const auto& [name, value] : args.keyword) {
    auto it = std::find(params.begin(), params.end(), name);
    if (it == params.end()) eval_fail("{}() got an unexpected keyword argument '{}'", callee, name);
    auto& slot = bound[static_cast<std::size_t>(it - params.begin())];
    if (slot) eval_fail("{}() got multiple values for argument '{}'", callee, name);
    slot = value;
  }
  return bound;
}

std::int64_t int_arg(std::string_view callee, std::string_view param, const Value& v) {
  if (!v.is_integral()) eval_fail("{}(): '{}' must be an integer, not '{}'", callee, param, type_name(v));
  return v.as_int();
}

std::string string_arg(std::string_view callee, std::string_view param, const Value& v) {
  if (!v.is_string()) eval_fail("{}(): '{}' must be a string, not '{}'", callee, param, type_name(v));
  return v.as_string();
}

void check_string_size(std::size_t bytes, const BuildLimits& limits) {
  if (bytes > limits.max_string_bytes) {
    eval_fail("a string being built would exceed the render limit of {} bytes", limits.max_string_bytes);
  }
}

}  // namespace strata::jinja
