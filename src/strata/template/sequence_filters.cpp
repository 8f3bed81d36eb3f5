#include "strata/template/sequence_filters.h"

#include <algorithm>

#include "strata/template/filters.h"
#include "strata/template/is_tests.h"
#include "strata/template/operators.h"
#include "strata/template/pyformat.h"
#include "strata/template/unicode.h"

namespace strata::jinja {
namespace {

// Jinja2's _prepare_attribute_parts: "a.0.b" -> item lookups "a", 0, "b"; an int attribute is one part.
std::vector<Value> attribute_parts(const std::optional<Value>& attribute) {
  std::vector<Value> parts;
  if (!attribute || attribute->is_none()) return parts;
  if (!attribute->is_string()) {
    parts.push_back(*attribute);
    return parts;
  }
  const std::string& path = attribute->as_string();
  std::size_t start = 0;
  while (true) {
    const std::size_t dot = path.find('.', start);
    const std::string part = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    const bool digits =
        !part.empty() && std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (digits && part.size() < 19) {
      parts.emplace_back(static_cast<std::int64_t>(std::stoll(part)));
    } else {
      parts.emplace_back(part);
    }
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return parts;
}

Value lookup_path(Value item, const std::vector<Value>& parts) {
  for (const Value& part : parts) item = get_item(item, part);
  return item;
}

// Jinja2's ignore_case postprocessor: strings compare lowercased unless case_sensitive.
Value sort_key(const Value& v, bool case_sensitive) {
  if (!case_sensitive && v.is_string()) return Value(to_lower(v.as_string()));
  return v;
}

// make_multi_attrgetter: "age,name" sorts by several attributes.
std::vector<std::vector<Value>> multi_attribute_parts(const std::optional<Value>& attribute) {
  std::vector<std::vector<Value>> all;
  if (attribute && attribute->is_string()) {
    const std::string& spec = attribute->as_string();
    std::size_t start = 0;
    while (true) {
      const std::size_t comma = spec.find(',', start);
      all.push_back(attribute_parts(
          Value(spec.substr(start, comma == std::string::npos ? std::string::npos : comma - start))));
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
  } else {
    all.push_back(attribute_parts(attribute));
  }
  return all;
}

Value generator(std::vector<Value> items) { return Value::sequence(SeqKind::Generator, std::move(items)); }

bool bool_arg(const std::optional<Value>& v) { return v && truthy(*v); }

}  // namespace

Value filter_select(const std::string& name, const Value& input, const CallArgs& args) {
  const bool by_attribute = name == "selectattr" || name == "rejectattr";
  const bool keep_matching = name == "select" || name == "selectattr";
  std::vector<Value> kept;
  if (!truthy(input)) return generator({});  // Jinja2 checks `if value:` before iterating
  std::vector<Value> parts;
  std::size_t next = 0;
  if (by_attribute) {
    if (args.positional.empty()) eval_fail("{}: missing parameter for attribute name", name);
    parts = attribute_parts(args.positional[0]);
    next = 1;
  }
  std::optional<std::string> test;
  CallArgs test_args;
  if (next < args.positional.size()) {
    const Value& test_name = args.positional[next];
    if (!test_name.is_string()) eval_fail("{}: the test name must be a string", name);
    test = test_name.as_string();
    if (!is_supported_test(*test)) eval_fail("{}: no test named '{}'", name, *test);
    test_args.positional.assign(args.positional.begin() + static_cast<std::ptrdiff_t>(next) + 1,
                                args.positional.end());
    test_args.keyword = args.keyword;
  }
  for (const Value& item : iterate(input)) {
    const Value subject = by_attribute ? lookup_path(item, parts) : item;
    const bool passed = test ? apply_test(*test, subject, test_args) : truthy(subject);
    if (passed == keep_matching) kept.push_back(item);
  }
  return generator(std::move(kept));
}

Value filter_map(const Value& input, const CallArgs& args, const BuildLimits& limits) {
  std::vector<Value> out;
  const bool by_attribute =
      args.positional.empty() && std::any_of(args.keyword.begin(), args.keyword.end(),
                                             [](const auto& kw) { return kw.first == "attribute"; });
  if (!truthy(input)) return generator({});
  if (by_attribute) {
    std::optional<Value> attribute, fallback;
    for (const auto& [key, value] : args.keyword) {
      if (key == "attribute") {
        attribute = value;
      } else if (key == "default") {
        fallback = value;
      } else {
        eval_fail("map: unexpected keyword argument '{}'", key);
      }
    }
    const std::vector<Value> parts = attribute_parts(attribute);
    for (const Value& item : iterate(input)) {
      Value v = item;
      for (const Value& part : parts) {
        v = get_item(v, part);
        if (fallback && !fallback->is_none() && v.is_undefined()) v = *fallback;
      }
      out.push_back(std::move(v));
    }
    return generator(std::move(out));
  }
  if (args.positional.empty()) eval_fail("map requires a filter argument");
  if (!args.positional[0].is_string()) eval_fail("map: the filter name must be a string");
  const std::string filter = args.positional[0].as_string();
  if (!is_supported_filter(filter)) eval_fail("map: no supported filter named '{}'", filter);
  CallArgs filter_args;
  filter_args.positional.assign(args.positional.begin() + 1, args.positional.end());
  filter_args.keyword = args.keyword;
  for (const Value& item : iterate(input)) out.push_back(apply_filter(filter, item, filter_args, limits));
  return generator(std::move(out));
}

Value filter_unique(const Value& input, const CallArgs& args) {
  auto a = bind_args("unique", args, {"case_sensitive", "attribute"});
  const bool case_sensitive = bool_arg(a[0]);
  const std::vector<Value> parts = attribute_parts(a[1]);
  std::vector<Value> seen, out;
  for (const Value& item : iterate(input)) {
    const Value key = sort_key(lookup_path(item, parts), case_sensitive);
    if (key.is_dict() || (key.is_sequence() && key.seq().kind == SeqKind::List)) {
      eval_fail("unique: unhashable type: '{}'", type_name(key));
    }
    if (std::none_of(seen.begin(), seen.end(), [&](const Value& s) { return equals(s, key); })) {
      seen.push_back(key);
      out.push_back(item);
    }
  }
  return generator(std::move(out));
}

Value filter_sort(const Value& input, const CallArgs& args) {
  auto a = bind_args("sort", args, {"reverse", "case_sensitive", "attribute"});
  const bool reverse = bool_arg(a[0]);
  const bool case_sensitive = bool_arg(a[1]);
  const auto parts = multi_attribute_parts(a[2]);
  struct Keyed {
    std::vector<Value> key;
    Value item;
  };
  std::vector<Keyed> keyed;
  for (const Value& item : iterate(input)) {
    Keyed k{{}, item};
    for (const auto& path : parts) k.key.push_back(sort_key(lookup_path(item, path), case_sensitive));
    keyed.push_back(std::move(k));
  }
  // Python's sorted is stable and so is its reverse=True (equal keys keep their order).
  auto less = [](const std::vector<Value>& x, const std::vector<Value>& y) {
    return python_less(Value::list(x), Value::list(y));
  };
  std::stable_sort(keyed.begin(), keyed.end(), [&](const Keyed& x, const Keyed& y) {
    return reverse ? less(y.key, x.key) : less(x.key, y.key);
  });
  std::vector<Value> out;
  for (auto& k : keyed) out.push_back(std::move(k.item));
  return Value::list(std::move(out));
}

Value filter_dictsort(const Value& input, const CallArgs& args) {
  auto a = bind_args("dictsort", args, {"case_sensitive", "by", "reverse"});
  const bool case_sensitive = bool_arg(a[0]);
  std::size_t position = 0;
  if (a[1]) {
    if (!a[1]->is_string() || (a[1]->as_string() != "key" && a[1]->as_string() != "value")) {
      eval_fail("dictsort: you can only sort by either \"key\" or \"value\"");
    }
    position = a[1]->as_string() == "key" ? 0 : 1;
  }
  const bool reverse = bool_arg(a[2]);
  if (input.is_undefined()) raise_undefined(input);
  if (!input.is_dict()) eval_fail("dictsort: '{}' object has no attribute 'items'", type_name(input));
  std::vector<std::pair<Value, Value>> entries = input.dict().entries;
  std::stable_sort(entries.begin(), entries.end(), [&](const auto& x, const auto& y) {
    const Value kx = sort_key(position == 0 ? x.first : x.second, case_sensitive);
    const Value ky = sort_key(position == 0 ? y.first : y.second, case_sensitive);
    return reverse ? python_less(ky, kx) : python_less(kx, ky);
  });
  std::vector<Value> out;
  for (auto& [k, v] : entries) out.push_back(Value::tuple({k, v}));
  return Value::list(std::move(out));
}

Value filter_min_max(const std::string& name, const Value& input, const CallArgs& args) {
  auto a = bind_args(name, args, {"case_sensitive", "attribute"});
  const bool case_sensitive = bool_arg(a[0]);
  const std::vector<Value> parts = attribute_parts(a[1]);
  const std::vector<Value> items = iterate(input);
  if (items.empty()) return Value::undefined("No aggregated item, sequence was empty.");
  std::size_t best = 0;
  Value best_key = sort_key(lookup_path(items[0], parts), case_sensitive);
  for (std::size_t i = 1; i < items.size(); ++i) {
    Value key = sort_key(lookup_path(items[i], parts), case_sensitive);
    // Python's min/max keep the first of equal items.
    if (name == "min" ? python_less(key, best_key) : python_less(best_key, key)) {
      best = i;
      best_key = std::move(key);
    }
  }
  return items[best];
}

Value filter_join(const Value& input, const CallArgs& args, const BuildLimits& limits) {
  auto a = bind_args("join", args, {"d", "attribute"});
  const std::string separator = a[0] ? to_str(*a[0]) : std::string();
  const std::vector<Value> parts = attribute_parts(a[1]);
  std::string out;
  bool first = true;
  for (const Value& item : iterate(input)) {
    if (!first) out += separator;
    first = false;
    out += to_str(a[1] ? lookup_path(item, parts) : item);
    check_string_size(out.size(), limits);
  }
  return Value(std::move(out));
}

Value filter_sum(const Value& input, const CallArgs& args, const BuildLimits& limits) {
  auto a = bind_args("sum", args, {"attribute", "start"});
  const std::vector<Value> parts = attribute_parts(a[0]);
  Value total = a[1] ? *a[1] : Value(0);
  for (const Value& item : iterate(input)) {
    total = binary_op(BinaryOp::Add, total, a[0] ? lookup_path(item, parts) : item, limits);
  }
  return total;
}

Value filter_first(const Value& input) {
  std::vector<Value> items = iterate(input);
  if (items.empty()) return Value::undefined("No first item, sequence was empty.");
  return items.front();
}

Value filter_last(const Value& input) {
  // next(iter(reversed(seq))): iterators cannot be reversed in Python.
  if (input.is_sequence() &&
      (input.seq().kind == SeqKind::Generator || input.seq().kind == SeqKind::ReverseIterator)) {
    eval_fail("'{}' object is not reversible", type_name(input));
  }
  std::vector<Value> items = iterate(input);
  if (items.empty()) return Value::undefined("No last item, sequence was empty.");
  return items.back();
}

Value filter_reverse(const Value& input) {
  if (input.is_string()) {
    std::u32string cps = decode_utf8(input.as_string());
    std::reverse(cps.begin(), cps.end());
    return Value(encode_utf8(cps), input.is_markup());
  }
  std::vector<Value> items = iterate(input);
  std::reverse(items.begin(), items.end());
  // reversed() works on sequences and gives an iterator; for anything else Jinja2 builds a list.
  const bool reversible = input.is_dict() || (input.is_sequence() && input.seq().kind != SeqKind::Generator &&
                                              input.seq().kind != SeqKind::ReverseIterator);
  return Value::sequence(reversible ? SeqKind::ReverseIterator : SeqKind::List, std::move(items));
}

Value filter_items(const Value& input) {
  if (input.is_undefined()) return generator({});
  if (!input.is_dict()) eval_fail("Can only get item pairs from a mapping.");
  std::vector<Value> pairs;
  for (const auto& [k, v] : input.dict().entries) pairs.push_back(Value::tuple({k, v}));
  return generator(std::move(pairs));
}

}  // namespace strata::jinja
