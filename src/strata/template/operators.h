// Python's semantics for what templates do to values, as Jinja2 (in transformers' immutable sandbox)
// exposes them: attribute and item lookup with their fallbacks (x.name tries the attribute then the item,
// x[key] the item then the attribute; a miss is Undefined, never an error), slicing, arithmetic with
// Python's int/float rules (floor division and modulo round toward negative infinity), comparisons, `in`,
// len() and iteration. Using an Undefined where Python would call one of its failing dunders raises the
// EvalError Jinja2 would ('x' is undefined).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "strata/template/ast.h"
#include "strata/template/call_args.h"
#include "strata/template/value.h"

namespace strata::jinja {

[[noreturn]] void raise_undefined(const Value& undefined);

Value get_attribute(const Value& object, const std::string& name);
Value get_item(const Value& object, const Value& key);
// x[start:stop:step]; an Undefined bound means the part was omitted (the renderer rejects an Undefined
// value).
Value get_slice(const Value& object, const Value& start, const Value& stop, const Value& step);

// + - * / // % ** on two values (`and`/`or` short-circuit in the renderer). String % is printf formatting.
Value binary_op(BinaryOp op, const Value& left, const Value& right, const BuildLimits& limits);
Value unary_minus(const Value& v);
Value unary_plus(const Value& v);
bool compare(CompareOp op, const Value& left, const Value& right);
// Python's a < b for sorting and min/max (numbers, strings, lists and tuples item by item).
bool python_less(const Value& a, const Value& b);
bool contains(const Value& container, const Value& item);  // `item in container`
std::int64_t length(const Value& v);                       // len(v)
std::vector<Value> iterate(const Value& v);                // iter(v): a str gives characters, a dict keys

// Whether a Python object of this value's type has a method `name` (str, list, tuple, dict), and whether
// transformers' immutable sandbox lets a template reach it.
bool has_python_method(const Value& receiver, std::string_view name);
bool is_mutating_method(const Value& receiver, std::string_view name);

}  // namespace strata::jinja
