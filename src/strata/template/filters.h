// Jinja2's filters as transformers' environment has them (its own `tojson`: json.dumps with
// ensure_ascii=False, indent, separators, sort_keys). Supported: abs attr capitalize center count d default
// dictsort e escape first float forceescape format indent int items join last length list lower map max
// min reject rejectattr replace reverse round safe select selectattr sort string sum title tojson trim
// unique upper wordcount. Jinja2's others (groupby, batch, truncate, wordwrap...) are refused at load.
// Lazy results (map, select, unique, items...) are generators as in Python: iterate them or |list them.
#pragma once

#include <string>
#include <string_view>

#include "strata/template/call_args.h"
#include "strata/template/value.h"

namespace strata::jinja {

bool is_supported_filter(std::string_view name);
bool is_unsupported_jinja_filter(std::string_view name);  // a Jinja2 built-in strata does not implement

Value apply_filter(const std::string& name, const Value& input, const CallArgs& args,
                   const BuildLimits& limits);

}  // namespace strata::jinja
