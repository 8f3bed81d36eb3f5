// The filters that walk sequences (internal to the template module; filters.cpp dispatches to them):
// selection (select, reject, selectattr, rejectattr), transformation (map, unique, sort, dictsort,
// reverse, list, items) and reduction (join, first, last, min, max, sum), with Jinja2's attribute paths
// ("a.b.0") and its case-insensitive defaults.
#pragma once

#include <string>

#include "strata/template/call_args.h"
#include "strata/template/value.h"

namespace strata::jinja {

Value filter_select(const std::string& name, const Value& input, const CallArgs& args);
Value filter_map(const Value& input, const CallArgs& args, const BuildLimits& limits);
Value filter_unique(const Value& input, const CallArgs& args);
Value filter_sort(const Value& input, const CallArgs& args);
Value filter_dictsort(const Value& input, const CallArgs& args);
Value filter_min_max(const std::string& name, const Value& input, const CallArgs& args);
Value filter_join(const Value& input, const CallArgs& args, const BuildLimits& limits);
Value filter_sum(const Value& input, const CallArgs& args, const BuildLimits& limits);
Value filter_first(const Value& input);
Value filter_last(const Value& input);
Value filter_reverse(const Value& input);
Value filter_items(const Value& input);

}  // namespace strata::jinja
