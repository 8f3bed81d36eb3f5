// The Python methods chat templates call on values: str (strip, split, startswith, replace, find, join...),
// dict (items, keys, values, get), list and tuple (index, count) and the loop object (cycle, changed).
// Indices and lengths count code points, as Python's str does. Mutating methods (append, update, pop...)
// are refused at load: transformers' immutable sandbox forbids them too.
#pragma once

#include <string>
#include <string_view>

#include "strata/template/call_args.h"
#include "strata/template/value.h"

namespace strata::jinja {

// Method names strata implements for some receiver type; a call to any other method fails at load.
bool is_supported_method(std::string_view name);

Value call_method(const BoundMethod& method, const CallArgs& args, const BuildLimits& limits);

}  // namespace strata::jinja
