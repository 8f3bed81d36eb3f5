#include "strata/template/globals.h"

#include <ctime>

#include "strata/template/operators.h"
#include "strata/template/pyformat.h"

namespace strata::jinja {
namespace {

Value make_range(const CallArgs& args) {
  if (!args.keyword.empty()) eval_fail("range() takes no keyword arguments");
  const auto& p = args.positional;
  if (p.empty() || p.size() > 3) eval_fail("range expected 1 to 3 arguments, got {}", p.size());
  for (const Value& v : p) {
    if (v.is_undefined()) raise_undefined(v);
    if (!v.is_integral()) eval_fail("'{}' object cannot be interpreted as an integer", type_name(v));
  }
  const std::int64_t start = p.size() == 1 ? 0 : p[0].as_int();
  const std::int64_t stop = p.size() == 1 ? p[0].as_int() : p[1].as_int();
  const std::int64_t step = p.size() == 3 ? p[2].as_int() : 1;
  if (step == 0) eval_fail("range() arg 3 must not be zero");
  // Count without overflow: ceil((stop - start) / step) when positive.
  const long double span = static_cast<long double>(stop) - static_cast<long double>(start);
  long double count = span / static_cast<long double>(step);
  if (count < 0) count = 0;
  if (count > static_cast<long double>(kMaxRange)) {
    eval_fail("Range too big. The sandbox blocks ranges larger than MAX_RANGE ({}).", kMaxRange);
  }
  auto seq = std::make_shared<Sequence>();
  seq->kind = SeqKind::Range;
  seq->range_start = start;
  seq->range_stop = stop;
  seq->range_step = step;
  for (std::int64_t v = start; step > 0 ? v < stop : v > stop;) {
    seq->items.emplace_back(v);
    if (__builtin_add_overflow(v, step, &v)) break;  // the next value would be past any int64 stop
  }
  return Value(std::shared_ptr<const Sequence>(std::move(seq)));
}

// dict(mapping or pairs, **kwargs), which namespace() also takes.
Dict make_dict(std::string_view callee, const CallArgs& args) {
  Dict dict;
  if (args.positional.size() > 1)
    eval_fail("{} expected at most 1 argument, got {}", callee, args.positional.size());
  if (!args.positional.empty()) {
    const Value& source = args.positional[0];
    if (source.is_dict()) {
      for (const auto& [k, v] : source.dict().entries) dict.set(k, v);
    } else if (source.kind() == Kind::Namespace) {
      for (const auto& [k, v] : source.ns().attrs.entries) dict.set(k, v);
    } else {
      std::size_t i = 0;
      for (const Value& pair : iterate(source)) {
        std::vector<Value> kv = iterate(pair);
        if (kv.size() != 2) {
          eval_fail("dictionary update sequence element #{} has length {}; 2 is required", i, kv.size());
        }
        dict.set(kv[0], kv[1]);
        ++i;
      }
    }
  }
  for (const auto& [k, v] : args.keyword) dict.set(Value(k), v);
  return dict;
}

Value strftime_now(const CallArgs& args) {
  auto a = bind_args("strftime_now", args, {"format"});
  if (!a[0]) eval_fail("strftime_now() missing 1 required positional argument: 'format'");
  const std::string format = string_arg("strftime_now", "format", *a[0]);
  // datetime.now().strftime(): local time through the C library's strftime, as CPython does.
  const std::time_t now = std::time(nullptr);
  std::tm local{};
  localtime_r(&now, &local);
  std::string out(256, '\0');
  while (true) {
    const std::size_t n = std::strftime(out.data(), out.size(), format.c_str(), &local);
    if (n > 0 || format.empty()) {
      out.resize(n);
      return Value(out);
    }
    if (out.size() > 65536) eval_fail("strftime_now: the formatted date is too long");
    out.resize(out.size() * 4);
  }
}

}  // namespace

std::optional<Builtin> find_global(std::string_view name) {
  if (name == "range") return Builtin::Range;
  if (name == "dict") return Builtin::Dict;
  if (name == "namespace") return Builtin::Namespace;
  if (name == "raise_exception") return Builtin::RaiseException;
  if (name == "strftime_now") return Builtin::StrftimeNow;
  return std::nullopt;
}

bool is_unsupported_jinja_global(std::string_view name) {
  return name == "cycler" || name == "joiner" || name == "lipsum";
}

Value call_global(Builtin function, const CallArgs& args) {
  switch (function) {
    case Builtin::Range:
      return make_range(args);
    case Builtin::Dict:
      return Value(std::make_shared<const Dict>(make_dict("dict", args)));
    case Builtin::Namespace: {
      auto ns = std::make_shared<Namespace>();
      ns->attrs = make_dict("namespace", args);
      return Value(std::move(ns));
    }
    case Builtin::RaiseException: {
      auto a = bind_args("raise_exception", args, {"message"});
      throw TemplateRaised(a[0] ? to_str(*a[0]) : std::string());
    }
    case Builtin::StrftimeNow:
      return strftime_now(args);
  }
  eval_fail("unknown global function");
}

}  // namespace strata::jinja
