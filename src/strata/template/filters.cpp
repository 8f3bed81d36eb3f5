#include "strata/template/filters.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "strata/template/json_dump.h"
#include "strata/template/methods.h"
#include "strata/template/operators.h"
#include "strata/template/printf_format.h"
#include "strata/template/pyformat.h"
#include "strata/template/sequence_filters.h"
#include "strata/template/unicode.h"

namespace strata::jinja {
namespace {

constexpr std::string_view kSupported[] = {
    "abs",      "attr",  "capitalize", "center", "count",      "d",           "default",
    "dictsort", "e",     "escape",     "first",  "float",      "forceescape", "format",
    "indent",   "int",   "items",      "join",   "last",       "length",      "list",
    "lower",    "map",   "max",        "min",    "reject",     "rejectattr",  "replace",
    "reverse",  "round", "safe",       "select", "selectattr", "sort",        "string",
    "sum",      "title", "tojson",     "trim",   "unique",     "upper",       "wordcount"};
constexpr std::string_view kUnsupported[] = {"batch",     "filesizeformat", "groupby",   "pprint",
                                             "random",    "slice",          "striptags", "truncate",
                                             "urlencode", "urlize",         "wordwrap",  "xmlattr"};

// markupsafe.soft_str: a Markup stays a Markup, everything else becomes str().
Value soft_str(const Value& v) { return v.is_string() ? v : Value(to_str(v)); }

// Python's str -> number parsing (int(s, base), float(s)): surrounding whitespace and single underscores
// between digits are allowed.
std::optional<std::string> clean_number_text(const std::string& text) {
  std::string s = strip(text, true, true, nullptr);
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '_') {
      const bool between = i > 0 && i + 1 < s.size() && std::isalnum(static_cast<unsigned char>(s[i - 1])) &&
                           std::isalnum(static_cast<unsigned char>(s[i + 1]));
      if (!between) return std::nullopt;
      continue;
    }
    out.push_back(s[i]);
  }
  if (out.empty()) return std::nullopt;
  return out;
}

std::optional<std::int64_t> parse_python_int(const std::string& text, int base) {
  auto cleaned = clean_number_text(text);
  if (!cleaned) return std::nullopt;
  std::string s = *cleaned;
  bool negative = false;
  if (s[0] == '+' || s[0] == '-') {
    negative = s[0] == '-';
    s.erase(0, 1);
  }
  auto has_prefix = [&](char p) { return s.size() > 2 && s[0] == '0' && (s[1] | 0x20) == p; };
  if (base == 0) {
    base = has_prefix('x') ? 16 : has_prefix('o') ? 8 : has_prefix('b') ? 2 : 10;
    if (base == 10 && s.size() > 1 && s[0] == '0' && s.find_first_not_of('0') != std::string::npos)
      return std::nullopt;
  }
  if ((base == 16 && has_prefix('x')) || (base == 8 && has_prefix('o')) || (base == 2 && has_prefix('b')))
    s.erase(0, 2);
  if (s.empty() || base < 2 || base > 36) return std::nullopt;
  errno = 0;
  char* end = nullptr;
  const unsigned long long magnitude = std::strtoull(s.c_str(), &end, base);
  if (*end != '\0' || s[0] == '-' || s[0] == '+' || std::isspace(static_cast<unsigned char>(s[0])))
    return std::nullopt;
  if (errno == ERANGE || magnitude > static_cast<unsigned long long>(INT64_MAX) + (negative ? 1 : 0)) {
    eval_fail("int: {} does not fit strata's 64-bit template integers", text);
  }
  return negative ? static_cast<std::int64_t>(0ULL - magnitude) : static_cast<std::int64_t>(magnitude);
}

std::optional<double> parse_python_float(const std::string& text) {
  auto cleaned = clean_number_text(text);
  if (!cleaned) return std::nullopt;
  const std::string& s = *cleaned;
  std::string lower = to_lower(s);
  const std::string unsigned_part = lower[0] == '+' || lower[0] == '-' ? lower.substr(1) : lower;
  if (unsigned_part == "inf" || unsigned_part == "infinity" || unsigned_part == "nan") {
    const double v = unsigned_part == "nan" ? std::nan("") : HUGE_VAL;
    return lower[0] == '-' ? -v : v;
  }
  if (unsigned_part.find_first_not_of("0123456789.e+-") != std::string::npos) return std::nullopt;
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (*end != '\0' || end == s.c_str()) return std::nullopt;
  return v;
}

Value filter_int(const Value& input, const CallArgs& args) {
  auto a = bind_args("int", args, {"default", "base"});
  const Value fallback = a[0] ? *a[0] : Value(0);
  const int base = a[1] ? static_cast<int>(int_arg("int", "base", *a[1])) : 10;
  if (input.is_undefined()) raise_undefined(input);  // int(Undefined) raises, the filter does not catch it
  if (input.is_integral()) return Value(input.as_int());
  if (input.is_float()) {
    const double d = input.as_float();
    if (std::isnan(d) || std::isinf(d)) return fallback;
    if (std::fabs(d) >= 9.2e18)
      eval_fail("int: {} does not fit strata's 64-bit template integers", float_repr(d));
    return Value(static_cast<std::int64_t>(std::trunc(d)));
  }
  if (input.is_string()) {
    if (auto v = parse_python_int(input.as_string(), base)) return Value(*v);
    // Jinja2's quirk: "42.23"|int is 42, through float().
    if (auto f = parse_python_float(input.as_string()); f && std::isfinite(*f)) {
      if (std::fabs(*f) >= 9.2e18)
        eval_fail("int: {} does not fit strata's 64-bit template integers", input.as_string());
      return Value(static_cast<std::int64_t>(std::trunc(*f)));
    }
  }
  return fallback;
}

Value filter_float(const Value& input, const CallArgs& args) {
  auto a = bind_args("float", args, {"default"});
  const Value fallback = a[0] ? *a[0] : Value(0.0);
  if (input.is_undefined()) raise_undefined(input);
  if (input.is_number()) return Value(input.as_float());
  if (input.is_string()) {
    if (auto f = parse_python_float(input.as_string())) return Value(*f);
  }
  return fallback;
}

Value filter_round(const Value& input, const CallArgs& args) {
  auto a = bind_args("round", args, {"precision", "method"});
  const std::int64_t precision = a[0] ? int_arg("round", "precision", *a[0]) : 0;
  const std::string method = a[1] ? to_str(*a[1]) : "common";
  if (method != "common" && method != "ceil" && method != "floor") {
    eval_fail("round: method must be common, ceil or floor");
  }
  if (input.is_undefined()) raise_undefined(input);
  if (!input.is_number()) eval_fail("type {} doesn't define __round__ method", type_name(input));
  if (precision < 0 || precision > 300) eval_fail("round: precision {} is not supported", precision);
  if (method == "common") {
    if (input.is_integral()) return Value(input.as_int());  // round(int, n) stays an int
    const double d = input.as_float();
    if (!std::isfinite(d)) return input;
    // Python rounds the exact binary value correctly, half to even; so does the C library's printf.
    char buf[400];
    std::snprintf(buf, sizeof buf, "%.*f", static_cast<int>(precision), d);
    return Value(std::strtod(buf, nullptr));
  }
  const double scale = std::pow(10.0, static_cast<double>(precision));
  const double scaled = input.as_float() * scale;
  return Value((method == "ceil" ? std::ceil(scaled) : std::floor(scaled)) / scale);
}

Value filter_indent(const Value& input, const CallArgs& args, const BuildLimits& limits) {
  auto a = bind_args("indent", args, {"width", "first", "blank"});
  std::string indention = "    ";
  if (a[0]) {
    if (a[0]->is_string()) {
      indention = a[0]->as_string();
    } else {
      const std::int64_t width = int_arg("indent", "width", *a[0]);
      check_string_size(static_cast<std::size_t>(std::max<std::int64_t>(width, 0)), limits);
      indention = std::string(static_cast<std::size_t>(std::max<std::int64_t>(width, 0)), ' ');
    }
  }
  const bool first = a[1] && truthy(*a[1]);
  const bool blank = a[2] && truthy(*a[2]);
  if (input.is_undefined()) raise_undefined(input);  // `s += newline` on an Undefined
  if (!input.is_string()) eval_fail("unsupported operand type(s) for +=: '{}' and 'str'", type_name(input));
  // Jinja2 appends a newline and uses str.splitlines, which also breaks on \r, \v, \f, \x1c-\x1e, \x85...
  const Value lines_value =
      call_method(BoundMethod{Value(input.as_string() + "\n"), "splitlines"}, {}, limits);
  const auto& lines = lines_value.seq().items;
  std::string out;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const std::string& line = lines[i].as_string();
    if (i > 0) {
      out.push_back('\n');
      if (blank || !line.empty()) out += indention;
    }
    out += line;
    check_string_size(out.size(), limits);
  }
  if (first) out = indention + out;
  return Value(std::move(out), input.is_markup());
}

Value filter_tojson(const Value& input, const CallArgs& args) {
  // transformers' own filter: tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False).
  auto a = bind_args("tojson", args, {"ensure_ascii", "indent", "separators", "sort_keys"});
  JsonDumpOptions options;
  options.ensure_ascii = a[0] && truthy(*a[0]);
  if (a[1] && !a[1]->is_none()) {
    if (a[1]->is_string()) {
      options.indent = a[1]->as_string();
    } else {
      const std::int64_t n = int_arg("tojson", "indent", *a[1]);
      options.indent = std::string(static_cast<std::size_t>(std::clamp<std::int64_t>(n, 0, 1000)), ' ');
    }
  }
  if (a[2] && !a[2]->is_none()) {
    const std::vector<Value> parts = iterate(*a[2]);
    if (parts.size() != 2 || !parts[0].is_string() || !parts[1].is_string()) {
      eval_fail("tojson: separators must be a pair of strings");
    }
    options.item_separator = parts[0].as_string();
    options.key_separator = parts[1].as_string();
  }
  options.sort_keys = a[3] && truthy(*a[3]);
  return Value(python_json_dumps(input, options));
}

Value filter_center(const Value& input, const CallArgs& args, const BuildLimits& limits) {
  auto a = bind_args("center", args, {"width"});
  const std::int64_t width = a[0] ? int_arg("center", "width", *a[0]) : 80;
  const std::string s = to_str(input);
  const auto length = static_cast<std::int64_t>(code_point_count(s));
  if (width <= length) return Value(s);
  check_string_size(s.size() + static_cast<std::size_t>(width - length), limits);
  // CPython's pad rule: the odd space goes left when both the margin and the width are odd.
  const std::int64_t margin = width - length;
  const std::int64_t left = margin / 2 + (margin & width & 1);
  return Value(std::string(static_cast<std::size_t>(left), ' ') + s +
               std::string(static_cast<std::size_t>(margin - left), ' '));
}

Value filter_replace(const Value& input, const CallArgs& args, const BuildLimits& limits) {
  auto a = bind_args("replace", args, {"old", "new", "count"});
  if (!a[0] || !a[1]) eval_fail("replace filter needs 'old' and 'new'");
  CallArgs method_args;
  method_args.positional = {Value(to_str(*a[0])), Value(to_str(*a[1]))};
  if (a[2] && !a[2]->is_none()) method_args.positional.push_back(*a[2]);
  // Without autoescape Jinja2 replaces in str(s): the result is a plain str even for a Markup.
  return call_method(BoundMethod{Value(to_str(input)), "replace"}, method_args, limits);
}

Value filter_attr(const Value& input, const CallArgs& args) {
  auto a = bind_args("attr", args, {"name"});
  if (!a[0]) eval_fail("attr filter needs a name");
  const std::string name = to_str(*a[0]);
  // Attributes only: a dict's keys are not attributes.
  if (input.is_dict()) {
    if (has_python_method(input, name)) return get_attribute(input, name);
    return Value::undefined(fmt::format("'dict object' has no attribute '{}'", name));
  }
  return get_attribute(input, name);
}

Value filter_wordcount(const Value& input) {
  std::int64_t words = 0;
  bool in_word = false;
  for (char32_t c : decode_utf8(to_str(input))) {
    const bool word = is_word_char(c);
    if (word && !in_word) ++words;
    in_word = word;
  }
  return Value(words);
}

Value filter_format(const Value& input, const CallArgs& args, const BuildLimits& limits) {
  if (!args.keyword.empty())
    eval_fail("format: keyword arguments need %(name)s formats, which are not supported");
  return Value(python_printf(to_str(input), Value::tuple(args.positional), limits));
}

Value case_filter(const std::string& name, const Value& input, const CallArgs& args) {
  if (!args.empty()) eval_fail("filter '{}' takes no arguments", name);
  const Value s = soft_str(input);
  const std::string& text = s.as_string();
  if (name == "upper") return Value(to_upper(text), s.is_markup());
  if (name == "lower") return Value(to_lower(text), s.is_markup());
  if (name == "capitalize") return Value(capitalize(text), s.is_markup());
  // do_title splits on spaces, dashes and opening brackets and joins plain strs.
  std::string out;
  bool at_word_start = true;
  for (char32_t c : decode_utf8(text)) {
    const bool boundary = is_python_space(c) || c == '-' || c == '(' || c == '{' || c == '[' || c == '<';
    std::string one;
    append_utf8(one, c);
    if (boundary) {
      out += one;
      at_word_start = true;
    } else {
      out += at_word_start ? to_upper(one) : to_lower(one);
      at_word_start = false;
    }
  }
  return Value(std::move(out));
}

}  // namespace

bool is_supported_filter(std::string_view name) {
  return std::find(std::begin(kSupported), std::end(kSupported), name) != std::end(kSupported);
}

bool is_unsupported_jinja_filter(std::string_view name) {
  return std::find(std::begin(kUnsupported), std::end(kUnsupported), name) != std::end(kUnsupported);
}

Value apply_filter(const std::string& name, const Value& input, const CallArgs& args,
                   const BuildLimits& limits) {
  auto no_args = [&]() {
    if (!args.empty()) eval_fail("filter '{}' takes no arguments", name);
  };
  if (name == "default" || name == "d") {
    auto a = bind_args(name, args, {"default_value", "boolean"});
    const bool boolean = a[1] && truthy(*a[1]);
    if (input.is_undefined() || (boolean && !truthy(input))) return a[0] ? *a[0] : Value("");
    return input;
  }
  if (name == "length" || name == "count") return no_args(), Value(length(input));
  if (name == "string") return no_args(), soft_str(input);
  if (name == "safe") return no_args(), input.is_markup() ? input : Value::markup(to_str(input));
  if (name == "e" || name == "escape") {
    no_args();
    return input.is_markup() ? input : Value::markup(html_escape(to_str(input)));
  }
  if (name == "forceescape") return no_args(), Value::markup(html_escape(to_str(input)));
  if (name == "trim") {
    auto a = bind_args("trim", args, {"chars"});
    const Value s = soft_str(input);
    std::optional<std::u32string> chars;
    if (a[0] && !a[0]->is_none()) chars = decode_utf8(string_arg("trim", "chars", *a[0]));
    return Value(strip(s.as_string(), true, true, chars ? &*chars : nullptr), s.is_markup());
  }
  if (name == "upper" || name == "lower" || name == "capitalize" || name == "title") {
    return case_filter(name, input, args);
  }
  if (name == "tojson") return filter_tojson(input, args);
  if (name == "list") return no_args(), Value::list(iterate(input));
  if (name == "join") return filter_join(input, args, limits);
  if (name == "first") return no_args(), filter_first(input);
  if (name == "last") return no_args(), filter_last(input);
  if (name == "reverse") return no_args(), filter_reverse(input);
  if (name == "items") return no_args(), filter_items(input);
  if (name == "map") return filter_map(input, args, limits);
  if (name == "select" || name == "reject" || name == "selectattr" || name == "rejectattr") {
    return filter_select(name, input, args);
  }
  if (name == "unique") return filter_unique(input, args);
  if (name == "sort") return filter_sort(input, args);
  if (name == "dictsort") return filter_dictsort(input, args);
  if (name == "min" || name == "max") return filter_min_max(name, input, args);
  if (name == "sum") return filter_sum(input, args, limits);
  if (name == "int") return filter_int(input, args);
  if (name == "float") return filter_float(input, args);
  if (name == "round") return filter_round(input, args);
  if (name == "abs") {
    no_args();
    if (input.is_undefined()) raise_undefined(input);
    if (input.is_float()) return Value(std::fabs(input.as_float()));
    if (input.is_integral()) {
      if (input.as_int() == INT64_MIN) eval_fail("integer overflow in abs");
      return Value(input.as_int() < 0 ? -input.as_int() : input.as_int());
    }
    eval_fail("bad operand type for abs(): '{}'", type_name(input));
  }
  if (name == "indent") return filter_indent(input, args, limits);
  if (name == "center") return filter_center(input, args, limits);
  if (name == "replace") return filter_replace(input, args, limits);
  if (name == "attr") return filter_attr(input, args);
  if (name == "wordcount") return no_args(), filter_wordcount(input);
  if (name == "format") return filter_format(input, args, limits);
  eval_fail("no filter named '{}'", name);
}

}  // namespace strata::jinja
