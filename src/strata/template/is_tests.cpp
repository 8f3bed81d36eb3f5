#include "strata/template/is_tests.h"

#include <algorithm>
#include <cstdint>

#include "strata/template/filters.h"
#include "strata/template/operators.h"
#include "strata/template/pyformat.h"
#include "strata/template/unicode.h"

namespace strata::jinja {
namespace {

constexpr std::string_view kTests[] = {
    "odd",     "even",   "divisibleby", "defined",  "undefined", "filter", "test",    "none",
    "boolean", "false",  "true",        "integer",  "float",     "lower",  "upper",   "string",
    "mapping", "number", "sequence",    "iterable", "callable",  "sameas", "escaped", "in",
    "==",      "eq",     "equalto",     "!=",       "ne",        ">",      "gt",      "greaterthan",
    "ge",      ">=",     "<",           "lt",       "lessthan",  "<=",     "le"};

// str.islower() / str.isupper(): some cased character, and every cased one in that case.
bool string_case_is(const std::string& s, bool upper) {
  bool any_cased = false;
  for (char32_t c : decode_utf8(s)) {
    if (upper ? is_lower(c) : is_upper(c)) return false;
    if (is_cased(c)) any_cased = true;
  }
  return any_cased;
}

Value one_arg(const std::string& name, const CallArgs& args) {
  auto bound = bind_args(name, args, {"other"});
  if (!bound[0]) eval_fail("test '{}' needs an argument", name);
  return *bound[0];
}

bool divisible(const Value& value, const Value& by) {
  return equals(binary_op(BinaryOp::Mod, value, by, BuildLimits{SIZE_MAX}), Value(0));
}

}  // namespace

bool is_supported_test(std::string_view name) {
  return std::find(std::begin(kTests), std::end(kTests), name) != std::end(kTests);
}

bool apply_test(const std::string& name, const Value& value, const CallArgs& args) {
  const Kind kind = value.kind();
  auto no_args = [&]() {
    if (!args.empty()) eval_fail("test '{}' takes no arguments", name);
  };
  if (name == "defined") return no_args(), kind != Kind::Undefined;
  if (name == "undefined") return no_args(), kind == Kind::Undefined;
  if (name == "none") return no_args(), kind == Kind::None;
  if (name == "boolean") return no_args(), kind == Kind::Bool;
  if (name == "true") return no_args(), kind == Kind::Bool && value.as_bool();
  if (name == "false") return no_args(), kind == Kind::Bool && !value.as_bool();
  if (name == "integer") return no_args(), kind == Kind::Int;
  if (name == "float") return no_args(), kind == Kind::Float;
  if (name == "number") return no_args(), value.is_number();
  if (name == "string") return no_args(), kind == Kind::String;
  if (name == "mapping") return no_args(), kind == Kind::Dict;
  if (name == "escaped") return no_args(), value.is_markup();
  if (name == "callable") {
    no_args();
    return kind == Kind::Macro || kind == Kind::Function || kind == Kind::Method || kind == Kind::Undefined ||
           kind == Kind::Loop;
  }
  if (name == "iterable") {
    no_args();
    return kind == Kind::Undefined || kind == Kind::String || kind == Kind::Sequence || kind == Kind::Dict ||
           kind == Kind::Loop;
  }
  if (name == "sequence") {  // Jinja2 asks for len() and __getitem__
    no_args();
    if (kind == Kind::Sequence) {
      const SeqKind s = value.seq().kind;
      return s == SeqKind::List || s == SeqKind::Tuple || s == SeqKind::Range;
    }
    return kind == Kind::Undefined || kind == Kind::String || kind == Kind::Dict;
  }
  if (name == "lower" || name == "upper") return no_args(), string_case_is(to_str(value), name == "upper");
  if (name == "odd" || name == "even") {
    no_args();
    const Value rest = binary_op(BinaryOp::Mod, value, Value(2), BuildLimits{SIZE_MAX});
    return equals(rest, Value(name == "odd" ? 1 : 0));
  }
  if (name == "divisibleby") return divisible(value, one_arg(name, args));
  if (name == "filter")
    return no_args(), value.is_string() && (is_supported_filter(value.as_string()) ||
                                            is_unsupported_jinja_filter(value.as_string()));
  if (name == "test") return no_args(), value.is_string() && is_supported_test(value.as_string());
  if (name == "sameas") {
    const Value other = one_arg(name, args);
    if (value.kind() != other.kind()) return false;
    if (value.identity() != nullptr || other.identity() != nullptr)
      return value.identity() == other.identity();
    return equals(value, other);
  }
  if (name == "in") return contains(one_arg(name, args), value);
  if (name == "==" || name == "eq" || name == "equalto")
    return compare(CompareOp::Eq, value, one_arg(name, args));
  if (name == "!=" || name == "ne") return compare(CompareOp::Ne, value, one_arg(name, args));
  if (name == "<" || name == "lt" || name == "lessthan")
    return compare(CompareOp::Lt, value, one_arg(name, args));
  if (name == "<=" || name == "le") return compare(CompareOp::Le, value, one_arg(name, args));
  if (name == ">" || name == "gt" || name == "greaterthan")
    return compare(CompareOp::Gt, value, one_arg(name, args));
  if (name == ">=" || name == "ge") return compare(CompareOp::Ge, value, one_arg(name, args));
  eval_fail("no test named '{}'", name);
}

}  // namespace strata::jinja
