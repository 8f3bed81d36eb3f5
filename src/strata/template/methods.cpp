#include "strata/template/methods.h"

#include <algorithm>

#include "strata/template/operators.h"
#include "strata/template/pyformat.h"
#include "strata/template/unicode.h"

namespace strata::jinja {
namespace {

constexpr std::string_view kSupported[] = {
    // str
    "strip", "lstrip", "rstrip", "split", "rsplit", "splitlines", "startswith", "endswith", "upper", "lower",
    "title", "capitalize", "swapcase", "replace", "find", "rfind", "index", "rindex", "count", "join",
    "isdigit", "isalpha", "isalnum", "isspace", "islower", "isupper", "removeprefix", "removesuffix",
    // dict
    "items", "keys", "values", "get", "copy",
    // loop
    "cycle", "changed"};

Value str_value(std::string s, const Value& receiver) { return Value(std::move(s), receiver.is_markup()); }

std::optional<std::u32string> optional_chars(std::string_view method, const std::optional<Value>& arg) {
  if (!arg || arg->is_none()) return std::nullopt;
  if (!arg->is_string()) eval_fail("{} arg must be None or str", method);
  return decode_utf8(arg->as_string());
}

// Python's start/end arguments of find, count, startswith...: slice bounds over code points.
std::pair<std::size_t, std::size_t> span(std::size_t n, const std::optional<Value>& start,
                                         const std::optional<Value>& end) {
  auto adjust = [n](const std::optional<Value>& bound, std::int64_t fallback) {
    if (!bound || bound->is_none()) return fallback;
    if (!bound->is_integral()) eval_fail("slice indices must be integers or None");
    std::int64_t i = bound->as_int();
    const auto size = static_cast<std::int64_t>(n);
    if (i < 0) i = std::max<std::int64_t>(i + size, 0);
    return std::min(i, size);
  };
  const auto b = adjust(start, 0);
  const auto e = adjust(end, static_cast<std::int64_t>(n));
  return {static_cast<std::size_t>(b), static_cast<std::size_t>(std::max(b, e))};
}

std::vector<Value> split_whitespace(const std::u32string& s, std::int64_t maxsplit, bool from_right) {
  std::vector<std::u32string> parts;
  if (!from_right) {
    std::size_t i = 0;
    while (true) {
      while (i < s.size() && is_python_space(s[i])) ++i;
      if (i >= s.size()) break;
      if (maxsplit >= 0 && static_cast<std::int64_t>(parts.size()) == maxsplit) {
        parts.push_back(s.substr(i));  // the rest keeps its trailing whitespace
        break;
      }
      std::size_t j = i;
      while (j < s.size() && !is_python_space(s[j])) ++j;
      parts.push_back(s.substr(i, j - i));
      i = j;
    }
  } else {
    std::size_t i = s.size();
    while (true) {
      while (i > 0 && is_python_space(s[i - 1])) --i;
      if (i == 0) break;
      if (maxsplit >= 0 && static_cast<std::int64_t>(parts.size()) == maxsplit) {
        parts.push_back(s.substr(0, i));  // the rest keeps its leading whitespace
        break;
      }
      std::size_t j = i;
      while (j > 0 && !is_python_space(s[j - 1])) --j;
      parts.push_back(s.substr(j, i - j));
      i = j;
    }
    std::reverse(parts.begin(), parts.end());
  }
  std::vector<Value> out;
  for (const auto& p : parts) out.emplace_back(encode_utf8(p));
  return out;
}

std::vector<Value> split_on(const std::string& s, const std::string& sep, std::int64_t maxsplit,
                            bool from_right) {
  if (sep.empty()) eval_fail("empty separator");
  std::vector<std::string> parts;
  if (!from_right) {
    std::size_t start = 0;
    while (maxsplit < 0 || static_cast<std::int64_t>(parts.size()) < maxsplit) {
      const std::size_t at = s.find(sep, start);
      if (at == std::string::npos) break;
      parts.push_back(s.substr(start, at - start));
      start = at + sep.size();
    }
    parts.push_back(s.substr(start));
  } else {
    std::size_t end = s.size();
    while (maxsplit < 0 || static_cast<std::int64_t>(parts.size()) < maxsplit) {
      if (end < sep.size()) break;
      const std::size_t at = s.rfind(sep, end - sep.size());
      if (at == std::string::npos) break;
      parts.push_back(s.substr(at + sep.size(), end - at - sep.size()));
      end = at;
    }
    parts.push_back(s.substr(0, end));
    std::reverse(parts.begin(), parts.end());
  }
  std::vector<Value> out;
  for (auto& p : parts) out.emplace_back(std::move(p));
  return out;
}

Value split(const Value& receiver, const CallArgs& args, bool from_right) {
  const char* name = from_right ? "rsplit" : "split";
  auto a = bind_args(name, args, {"sep", "maxsplit"});
  const std::int64_t maxsplit = a[1] ? int_arg(name, "maxsplit", *a[1]) : -1;
  std::vector<Value> parts;
  if (!a[0] || a[0]->is_none()) {
    parts = split_whitespace(decode_utf8(receiver.as_string()), maxsplit, from_right);
  } else {
    parts = split_on(receiver.as_string(), string_arg(name, "sep", *a[0]), maxsplit, from_right);
  }
  if (receiver.is_markup()) {
    for (auto& p : parts) p = Value::markup(p.as_string());
  }
  return Value::list(std::move(parts));
}

bool is_line_break(char32_t c) {
  return c == '\n' || c == '\r' || c == 0x0B || c == 0x0C || c == 0x1C || c == 0x1D || c == 0x1E ||
         c == 0x85 || c == 0x2028 || c == 0x2029;
}

Value splitlines(const Value& receiver, const CallArgs& args) {
  auto a = bind_args("splitlines", args, {"keepends"});
  const bool keepends = a[0] && truthy(*a[0]);
  const std::u32string s = decode_utf8(receiver.as_string());
  std::vector<Value> lines;
  std::size_t start = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (!is_line_break(s[i])) continue;
    std::size_t end = i;
    if (s[i] == '\r' && i + 1 < s.size() && s[i + 1] == '\n') ++i;
    lines.push_back(str_value(encode_utf8(s.substr(start, (keepends ? i + 1 : end) - start)), receiver));
    start = i + 1;
  }
  if (start < s.size()) lines.push_back(str_value(encode_utf8(s.substr(start)), receiver));
  return Value::list(std::move(lines));
}

Value affix_test(const Value& receiver, const CallArgs& args, bool prefix) {
  const char* name = prefix ? "startswith" : "endswith";
  auto a = bind_args(name, args, {prefix ? "prefix" : "suffix", "start", "end"});
  if (!a[0]) eval_fail("{}() takes at least 1 argument (0 given)", name);
  const std::u32string s = decode_utf8(receiver.as_string());
  const auto [b, e] = span(s.size(), a[1], a[2]);
  const std::u32string_view window = std::u32string_view(s).substr(b, e - b);
  std::vector<Value> candidates;
  if (a[0]->is_sequence() && a[0]->seq().kind == SeqKind::Tuple) {
    candidates = a[0]->seq().items;
  } else {
    candidates.push_back(*a[0]);
  }
  for (const Value& c : candidates) {
    if (!c.is_string()) {
      eval_fail("{} first arg must be str or a tuple of str, not {}", name, type_name(c));
    }
    const std::u32string affix = decode_utf8(c.as_string());
    if (affix.size() > window.size()) continue;
    if (prefix ? window.substr(0, affix.size()) == affix
               : window.substr(window.size() - affix.size()) == affix) {
      return Value(true);
    }
  }
  return Value(false);
}

Value find(const Value& receiver, const CallArgs& args, std::string_view name) {
  auto a = bind_args(name, args, {"sub", "start", "end"});
  if (!a[0]) eval_fail("{}() takes at least 1 argument (0 given)", name);
  const std::u32string s = decode_utf8(receiver.as_string());
  const std::u32string sub = decode_utf8(string_arg(name, "sub", *a[0]));
  const auto [b, e] = span(s.size(), a[1], a[2]);
  const std::u32string_view window = std::u32string_view(s).substr(b, e - b);
  if (name == "count") {
    if (sub.empty()) return Value(static_cast<std::int64_t>(window.size() + 1));
    std::int64_t n = 0;
    for (std::size_t at = window.find(sub); at != std::u32string_view::npos;
         at = window.find(sub, at + sub.size())) {
      ++n;
    }
    return Value(n);
  }
  const bool reverse = name == "rfind" || name == "rindex";
  const std::size_t at = reverse ? window.rfind(sub) : window.find(sub);
  if (at == std::u32string_view::npos) {
    if (name == "index" || name == "rindex") eval_fail("substring not found");
    return Value(std::int64_t{-1});
  }
  return Value(static_cast<std::int64_t>(b + at));
}

Value replace(const Value& receiver, const CallArgs& args, const BuildLimits& limits) {
  auto a = bind_args("replace", args, {"old", "new", "count"});
  if (!a[0] || !a[1]) eval_fail("replace() takes at least 2 arguments");
  const std::string old_text = string_arg("replace", "old", *a[0]);
  const std::string new_text = string_arg("replace", "new", *a[1]);
  std::int64_t count = a[2] ? int_arg("replace", "count", *a[2]) : -1;
  const std::string& s = receiver.as_string();
  std::string out;
  if (old_text.empty()) {  // Python inserts `new` around every character
    const std::u32string cps = decode_utf8(s);
    for (std::size_t i = 0; i <= cps.size(); ++i) {
      if (count != 0) {
        out += new_text;
        if (count > 0) --count;
      }
      if (i < cps.size()) append_utf8(out, cps[i]);
      check_string_size(out.size(), limits);
    }
    return str_value(std::move(out), receiver);
  }
  std::size_t start = 0;
  while (count != 0) {
    const std::size_t at = s.find(old_text, start);
    if (at == std::string::npos) break;
    out.append(s, start, at - start);
    out += new_text;
    check_string_size(out.size(), limits);
    start = at + old_text.size();
    if (count > 0) --count;
  }
  out.append(s, start, std::string::npos);
  check_string_size(out.size(), limits);
  return str_value(std::move(out), receiver);
}

Value join(const Value& receiver, const CallArgs& args, const BuildLimits& limits) {
  auto a = bind_args("join", args, {"iterable"});
  if (!a[0]) eval_fail("join() takes exactly one argument (0 given)");
  std::string out;
  std::size_t i = 0;
  for (const Value& item : iterate(*a[0])) {
    if (!item.is_string()) {
      eval_fail("sequence item {}: expected str instance, {} found", i, type_name(item));
    }
    if (i++) out += receiver.as_string();
    out += item.as_string();
    check_string_size(out.size(), limits);
  }
  return Value(std::move(out));
}

template <typename Pred>
Value all_chars(const Value& receiver, const CallArgs& args, std::string_view name, Pred pred) {
  if (!args.empty()) eval_fail("{}() takes no arguments", name);
  const std::u32string s = decode_utf8(receiver.as_string());
  return Value(!s.empty() && std::all_of(s.begin(), s.end(), pred));
}

Value string_case(const Value& receiver, const CallArgs& args, bool upper) {
  if (!args.empty()) eval_fail("{}() takes no arguments", upper ? "isupper" : "islower");
  bool any_cased = false;
  for (char32_t c : decode_utf8(receiver.as_string())) {
    if (upper ? is_lower(c) : is_upper(c)) return Value(false);
    any_cased = any_cased || is_cased(c);
  }
  return Value(any_cased);
}

Value string_method(const Value& r, const std::string& name, const CallArgs& args,
                    const BuildLimits& limits) {
  const std::string& s = r.as_string();
  auto no_args = [&]() {
    if (!args.empty()) eval_fail("{}() takes no arguments", name);
  };
  if (name == "strip" || name == "lstrip" || name == "rstrip") {
    auto a = bind_args(name, args, {"chars"});
    const auto chars = optional_chars(name, a[0]);
    return str_value(strip(s, name != "rstrip", name != "lstrip", chars ? &*chars : nullptr), r);
  }
  if (name == "split") return split(r, args, false);
  if (name == "rsplit") return split(r, args, true);
  if (name == "splitlines") return splitlines(r, args);
  if (name == "startswith") return affix_test(r, args, true);
  if (name == "endswith") return affix_test(r, args, false);
  if (name == "upper") return no_args(), str_value(to_upper(s), r);
  if (name == "lower") return no_args(), str_value(to_lower(s), r);
  if (name == "title") return no_args(), str_value(title_case(s), r);
  if (name == "capitalize") return no_args(), str_value(capitalize(s), r);
  if (name == "swapcase") return no_args(), str_value(swap_case(s), r);
  if (name == "replace") return replace(r, args, limits);
  if (name == "find" || name == "rfind" || name == "index" || name == "rindex" || name == "count") {
    return find(r, args, name);
  }
  if (name == "join") return join(r, args, limits);
  if (name == "isdigit") return all_chars(r, args, name, is_digit);
  if (name == "isalpha") return all_chars(r, args, name, is_alpha);
  if (name == "isalnum")
    return all_chars(r, args, name, [](char32_t c) { return is_alpha(c) || is_digit(c); });
  if (name == "isspace") return all_chars(r, args, name, is_python_space);
  if (name == "islower") return string_case(r, args, false);
  if (name == "isupper") return string_case(r, args, true);
  if (name == "removeprefix" || name == "removesuffix") {
    auto a = bind_args(name, args, {"affix"});
    if (!a[0]) eval_fail("{}() takes exactly one argument (0 given)", name);
    const std::string affix = string_arg(name, "affix", *a[0]);
    if (name == "removeprefix" && s.compare(0, affix.size(), affix) == 0)
      return str_value(s.substr(affix.size()), r);
    if (name == "removesuffix" && !affix.empty() && s.size() >= affix.size() &&
        s.compare(s.size() - affix.size(), affix.size(), affix) == 0) {
      return str_value(s.substr(0, s.size() - affix.size()), r);
    }
    return r;
  }
  eval_fail("'str' object has no supported method '{}'", name);
}

Value dict_method(const Value& r, const std::string& name, const CallArgs& args) {
  const Dict& dict = r.dict();
  if (name == "get") {
    auto a = bind_args("get", args, {"key", "default"});
    if (!a[0]) eval_fail("get expected at least 1 argument, got 0");
    if (const Value* v = dict.find(*a[0])) return *v;
    return a[1] ? *a[1] : Value::none();
  }
  if (!args.empty()) eval_fail("{}() takes no arguments", name);
  if (name == "copy") return r;  // containers are immutable here, so sharing is copying
  std::vector<Value> items;
  items.reserve(dict.size());
  for (const auto& [key, value] : dict.entries) {
    if (name == "items") {
      items.push_back(Value::tuple({key, value}));
    } else {
      items.push_back(name == "keys" ? key : value);
    }
  }
  const SeqKind kind = name == "items"  ? SeqKind::DictItems
                       : name == "keys" ? SeqKind::DictKeys
                                        : SeqKind::DictValues;
  return Value::sequence(kind, std::move(items));
}

Value sequence_method(const Value& r, const std::string& name, const CallArgs& args) {
  const auto& items = r.seq().items;
  if (name == "copy") {
    if (!args.empty()) eval_fail("copy() takes no arguments");
    return r;
  }
  auto a = bind_args(name, args, {"value"});
  if (!a[0]) eval_fail("{}() takes exactly one argument (0 given)", name);
  if (name == "count") {
    return Value(static_cast<std::int64_t>(
        std::count_if(items.begin(), items.end(), [&](const Value& v) { return equals(v, *a[0]); })));
  }
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (equals(items[i], *a[0])) return Value(static_cast<std::int64_t>(i));
  }
  eval_fail("{} is not in {}", to_repr(*a[0]), type_name(r));
}

Value loop_method(const Value& r, const std::string& name, const CallArgs& args) {
  LoopState& loop = r.loop();
  if (!args.keyword.empty()) eval_fail("loop.{}() takes no keyword arguments", name);
  if (name == "cycle") {
    if (args.positional.empty()) eval_fail("no items for cycling given");
    return args.positional[loop.index0 % args.positional.size()];
  }
  const Value current = Value::tuple(args.positional);
  if (loop.last_changed && equals(*loop.last_changed, current)) return Value(false);
  loop.last_changed = current;
  return Value(true);
}

}  // namespace

bool is_supported_method(std::string_view name) {
  return std::find(std::begin(kSupported), std::end(kSupported), name) != std::end(kSupported);
}

Value call_method(const BoundMethod& method, const CallArgs& args, const BuildLimits& limits) {
  const Value& r = method.receiver;
  const std::string& name = method.name;
  switch (r.kind()) {
    case Kind::String:
      return string_method(r, name, args, limits);
    case Kind::Dict:
      if (name == "items" || name == "keys" || name == "values" || name == "get" || name == "copy") {
        return dict_method(r, name, args);
      }
      break;
    case Kind::Sequence:
      if (name == "index" || name == "count" || (name == "copy" && r.seq().kind == SeqKind::List)) {
        return sequence_method(r, name, args);
      }
      break;
    case Kind::Loop:
      return loop_method(r, name, args);
    default:
      break;
  }
  eval_fail("'{}' object has no supported method '{}'", type_name(r), name);
}

}  // namespace strata::jinja
