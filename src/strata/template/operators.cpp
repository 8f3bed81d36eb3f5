#include "strata/template/operators.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "strata/template/printf_format.h"
#include "strata/template/pyformat.h"
#include "strata/template/unicode.h"

namespace strata::jinja {
namespace {

constexpr std::string_view kStrMethods[] = {
    "capitalize", "casefold",     "center",       "count",   "encode",     "endswith",    "expandtabs",
    "find",       "format",       "format_map",   "index",   "isalnum",    "isalpha",     "isascii",
    "isdecimal",  "isdigit",      "isidentifier", "islower", "isnumeric",  "isprintable", "isspace",
    "istitle",    "isupper",      "join",         "ljust",   "lower",      "lstrip",      "maketrans",
    "partition",  "removeprefix", "removesuffix", "replace", "rfind",      "rindex",      "rjust",
    "rpartition", "rsplit",       "rstrip",       "split",   "splitlines", "startswith",  "strip",
    "swapcase",   "title",        "translate",    "upper",   "zfill"};
constexpr std::string_view kListMethods[] = {"append", "clear", "copy",   "count",   "extend", "index",
                                             "insert", "pop",   "remove", "reverse", "sort"};
constexpr std::string_view kTupleMethods[] = {"count", "index"};
constexpr std::string_view kDictMethods[] = {"clear", "copy",    "fromkeys",   "get",    "items", "keys",
                                             "pop",   "popitem", "setdefault", "update", "values"};
constexpr std::string_view kMutatingList[] = {"append", "clear",  "extend",  "insert",
                                              "pop",    "remove", "reverse", "sort"};
constexpr std::string_view kMutatingDict[] = {"clear", "pop", "popitem", "setdefault", "update"};

template <std::size_t N>
bool in(const std::string_view (&names)[N], std::string_view name) {
  return std::find(std::begin(names), std::end(names), name) != std::end(names);
}

// Jinja2's object_type_repr in undefined messages: "'dict object' has no attribute 'x'".
std::string object_description(const Value& v) {
  if (v.is_none()) return "None";
  return fmt::format("{} object", type_name(v));
}

Value missing_attribute(const Value& object, const std::string& name) {
  return Value::undefined(fmt::format("'{}' has no attribute '{}'", object_description(object), name));
}

Value bound_method(const Value& receiver, const std::string& name) {
  if (is_mutating_method(receiver, name)) {
    return Value::undefined(
        fmt::format("access to attribute '{}' of '{}' object is unsafe", name, type_name(receiver)));
  }
  return Value(std::make_shared<const BoundMethod>(BoundMethod{receiver, name}));
}

Value loop_attribute(const Value& loop_value, const std::string& name) {
  const LoopState& loop = loop_value.loop();
  const auto size = static_cast<std::int64_t>(loop.items->size());
  const auto index0 = static_cast<std::int64_t>(loop.index0);
  if (name == "index0") return Value(index0);
  if (name == "index") return Value(index0 + 1);
  if (name == "revindex0") return Value(size - index0 - 1);
  if (name == "revindex") return Value(size - index0);
  if (name == "first") return Value(index0 == 0);
  if (name == "last") return Value(index0 + 1 == size);
  if (name == "length") return Value(size);
  if (name == "depth0") return Value(loop.depth0);
  if (name == "depth") return Value(loop.depth0 + 1);
  if (name == "previtem") {
    return index0 > 0 ? (*loop.items)[loop.index0 - 1] : Value::undefined("there is no previous item");
  }
  if (name == "nextitem") {
    return index0 + 1 < size ? (*loop.items)[loop.index0 + 1] : Value::undefined("there is no next item");
  }
  if (name == "cycle" || name == "changed") {
    return Value(std::make_shared<const BoundMethod>(BoundMethod{loop_value, name}));
  }
  return missing_attribute(loop_value, name);
}

// Python's index normalisation for x[i]; nullopt when out of range.
std::optional<std::size_t> normalize_index(std::int64_t index, std::size_t size) {
  const auto n = static_cast<std::int64_t>(size);
  if (index < 0) index += n;
  if (index < 0 || index >= n) return std::nullopt;
  return static_cast<std::size_t>(index);
}

bool subscriptable(const Sequence& seq) {
  return seq.kind == SeqKind::List || seq.kind == SeqKind::Tuple || seq.kind == SeqKind::Range;
}

[[noreturn]] void unsupported_operands(std::string_view symbol, const Value& a, const Value& b) {
  eval_fail("unsupported operand type(s) for {}: '{}' and '{}'", symbol, type_name(a), type_name(b));
}

std::int64_t checked(bool overflow, std::int64_t value) {
  if (overflow) eval_fail("integer overflow (strata's template integers are 64-bit; Python's are unbounded)");
  return value;
}

Value repeat(const Value& sequence, std::int64_t times, const BuildLimits& limits) {
  times = std::max<std::int64_t>(times, 0);
  if (sequence.is_string()) {
    const std::string& s = sequence.as_string();
    if (times > 0 && !s.empty()) {
      if (static_cast<std::uint64_t>(times) > limits.max_string_bytes / s.size()) {  // fail before allocating
        eval_fail("a string being built would exceed the render limit of {} bytes", limits.max_string_bytes);
      }
      check_string_size(s.size() * static_cast<std::size_t>(times), limits);
    }
    std::string out;
    for (std::int64_t i = 0; i < times; ++i) out += s;
    return Value(std::move(out), sequence.is_markup());
  }
  const auto& items = sequence.seq().items;
  if (static_cast<double>(items.size()) * static_cast<double>(times) > 1e7) {
    eval_fail("a list repetition would hold more than 10 million items");
  }
  std::vector<Value> out;
  for (std::int64_t i = 0; i < times; ++i) out.insert(out.end(), items.begin(), items.end());
  return Value::sequence(sequence.seq().kind, std::move(out));
}

bool repeatable(const Value& v) {
  return v.is_string() ||
         (v.is_sequence() && (v.seq().kind == SeqKind::List || v.seq().kind == SeqKind::Tuple));
}

Value add(const Value& a, const Value& b, const BuildLimits& limits) {
  if (a.is_number() && b.is_number()) {
    if (a.is_float() || b.is_float()) return Value(a.as_float() + b.as_float());
    std::int64_t r = 0;
    const bool overflow = __builtin_add_overflow(a.as_int(), b.as_int(), &r);
    return Value(checked(overflow, r));
  }
  if (a.is_string() && b.is_string()) {
    // Markup + str escapes the str (markupsafe), whichever side the Markup is on.
    const bool markup = a.is_markup() || b.is_markup();
    std::string left = markup && !a.is_markup() ? html_escape(a.as_string()) : a.as_string();
    const std::string right = markup && !b.is_markup() ? html_escape(b.as_string()) : b.as_string();
    check_string_size(left.size() + right.size(), limits);
    left += right;
    return Value(std::move(left), markup);
  }
  if (a.is_sequence() && b.is_sequence()) {
    const SeqKind ka = a.seq().kind, kb = b.seq().kind;
    if (ka == kb && (ka == SeqKind::List || ka == SeqKind::Tuple)) {
      std::vector<Value> items = a.seq().items;
      items.insert(items.end(), b.seq().items.begin(), b.seq().items.end());
      return Value::sequence(ka, std::move(items));
    }
  }
  if (a.is_string()) eval_fail("can only concatenate str (not \"{}\") to str", type_name(b));
  if (a.is_sequence() && (a.seq().kind == SeqKind::List || a.seq().kind == SeqKind::Tuple)) {
    eval_fail("can only concatenate {} (not \"{}\") to {}", type_name(a), type_name(b), type_name(a));
  }
  unsupported_operands("+", a, b);
}

double float_floor_div(double a, double b) {
  // CPython's float_floor_div: based on fmod so the result is consistent with %.
  double mod = std::fmod(a, b);
  double div = (a - mod) / b;
  if (mod != 0.0 && ((b < 0) != (mod < 0))) div -= 1.0;
  if (div == 0.0) return std::copysign(0.0, a / b);
  double floordiv = std::floor(div);
  if (div - floordiv > 0.5) floordiv += 1.0;
  return floordiv;
}

double float_mod(double a, double b) {
  double mod = std::fmod(a, b);
  if (mod != 0.0) {
    if ((b < 0) != (mod < 0)) mod += b;
  } else {
    mod = std::copysign(0.0, b);
  }
  return mod;
}

Value power(const Value& a, const Value& b) {
  if (a.is_integral() && b.is_integral() && b.as_int() >= 0) {
    std::int64_t base = a.as_int(), exponent = b.as_int(), result = 1;
    while (exponent > 0) {
      if (exponent & 1) {
        const bool overflow = __builtin_mul_overflow(result, base, &result);
        checked(overflow, result);
      }
      exponent >>= 1;
      if (exponent > 0) {
        const bool overflow = __builtin_mul_overflow(base, base, &base);
        checked(overflow, base);
      }
    }
    return Value(result);
  }
  const double x = a.as_float(), y = b.as_float();
  if (x == 0.0 && y < 0) eval_fail("0.0 cannot be raised to a negative power");
  if (x < 0 && std::floor(y) != y) eval_fail("a negative number to a fractional power is complex in Python");
  return Value(std::pow(x, y));
}

Value arithmetic(BinaryOp op, const Value& a, const Value& b) {
  static constexpr std::string_view kSymbols[] = {"+", "-", "*", "/", "//", "%", "**"};
  const std::string_view symbol = kSymbols[static_cast<int>(op)];
  if (!a.is_number() || !b.is_number()) unsupported_operands(symbol, a, b);
  const bool floats = a.is_float() || b.is_float();
  switch (op) {
    case BinaryOp::Sub: {
      if (floats) return Value(a.as_float() - b.as_float());
      std::int64_t r = 0;
      const bool overflow = __builtin_sub_overflow(a.as_int(), b.as_int(), &r);
      return Value(checked(overflow, r));
    }
    case BinaryOp::Mul: {
      if (floats) return Value(a.as_float() * b.as_float());
      std::int64_t r = 0;
      const bool overflow = __builtin_mul_overflow(a.as_int(), b.as_int(), &r);
      return Value(checked(overflow, r));
    }
    case BinaryOp::Div:
      if (b.as_float() == 0.0) eval_fail("division by zero");
      return Value(a.as_float() / b.as_float());
    case BinaryOp::FloorDiv: {
      if (b.as_float() == 0.0)
        eval_fail("{}", floats ? "float floor division by zero" : "integer division or modulo by zero");
      if (floats) return Value(float_floor_div(a.as_float(), b.as_float()));
      const std::int64_t x = a.as_int(), y = b.as_int();
      if (x == std::numeric_limits<std::int64_t>::min() && y == -1) checked(true, 0);
      std::int64_t q = x / y;
      if ((x % y != 0) && ((x < 0) != (y < 0))) --q;
      return Value(q);
    }
    case BinaryOp::Mod: {
      if (b.as_float() == 0.0)
        eval_fail("{}", floats ? "float modulo" : "integer division or modulo by zero");
      if (floats) return Value(float_mod(a.as_float(), b.as_float()));
      const std::int64_t x = a.as_int(), y = b.as_int();
      if (y == -1) return Value(std::int64_t{0});
      std::int64_t m = x % y;
      if (m != 0 && ((m < 0) != (y < 0))) m += y;
      return Value(m);
    }
    case BinaryOp::Pow:
      return power(a, b);
    default:
      break;
  }
  unsupported_operands(symbol, a, b);
}

// Python's rich comparison for ordering; nullopt when the types cannot be ordered.
std::optional<int> order(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) {
    if (a.is_float() || b.is_float()) {
      const double x = a.as_float(), y = b.as_float();
      if (std::isnan(x) || std::isnan(y)) return 2;  // every ordering is false
      return x < y ? -1 : x > y ? 1 : 0;
    }
    return a.as_int() < b.as_int() ? -1 : a.as_int() > b.as_int() ? 1 : 0;
  }
  if (a.is_string() && b.is_string()) {
    // UTF-8 byte order is code point order, which is how Python compares str.
    const int c = a.as_string().compare(b.as_string());
    return c < 0 ? -1 : c > 0 ? 1 : 0;
  }
  if (a.is_sequence() && b.is_sequence() && a.seq().kind == b.seq().kind &&
      (a.seq().kind == SeqKind::List || a.seq().kind == SeqKind::Tuple)) {
    const auto& x = a.seq().items;
    const auto& y = b.seq().items;
    for (std::size_t i = 0; i < x.size() && i < y.size(); ++i) {
      if (equals(x[i], y[i])) continue;
      auto o = order(x[i], y[i]);
      if (!o)
        eval_fail("'<' not supported between instances of '{}' and '{}'", type_name(x[i]), type_name(y[i]));
      return o;
    }
    return x.size() < y.size() ? -1 : x.size() > y.size() ? 1 : 0;
  }
  return std::nullopt;
}

}  // namespace

void raise_undefined(const Value& undefined) { eval_fail("{}", undefined.undefined_hint()); }

bool has_python_method(const Value& receiver, std::string_view name) {
  switch (receiver.kind()) {
    case Kind::String:
      return in(kStrMethods, name);
    case Kind::Dict:
      return in(kDictMethods, name);
    case Kind::Sequence:
      if (receiver.seq().kind == SeqKind::List) return in(kListMethods, name);
      if (receiver.seq().kind == SeqKind::Tuple) return in(kTupleMethods, name);
      if (receiver.seq().kind == SeqKind::Range) return name == "count" || name == "index";
      return false;
    default:
      return false;
  }
}

bool is_mutating_method(const Value& receiver, std::string_view name) {
  if (receiver.is_dict()) return in(kMutatingDict, name);
  if (receiver.is_sequence() && receiver.seq().kind == SeqKind::List) return in(kMutatingList, name);
  return false;
}

Value get_attribute(const Value& object, const std::string& name) {
  switch (object.kind()) {
    case Kind::Undefined:
      raise_undefined(object);
    case Kind::Dict: {
      if (has_python_method(object, name)) return bound_method(object, name);
      if (const Value* v = object.dict().find(std::string_view(name))) return *v;
      return missing_attribute(object, name);
    }
    case Kind::Namespace: {
      if (const Value* v = object.ns().attrs.find(std::string_view(name))) return *v;
      return missing_attribute(object, name);
    }
    case Kind::Loop:
      return loop_attribute(object, name);
    default:
      if (has_python_method(object, name)) return bound_method(object, name);
      return missing_attribute(object, name);
  }
}

Value get_item(const Value& object, const Value& key) {
  switch (object.kind()) {
    case Kind::Undefined:
      raise_undefined(object);
    case Kind::Dict:
      if (const Value* v = object.dict().find(key)) return *v;
      break;
    case Kind::Sequence:
      if (subscriptable(object.seq()) && key.is_integral()) {
        if (auto i = normalize_index(key.as_int(), object.seq().items.size())) return object.seq().items[*i];
        return Value::undefined(
            fmt::format("'{}' has no element {}", object_description(object), key.as_int()));
      }
      break;
    case Kind::String:
      if (key.is_integral()) {
        const std::u32string cps = decode_utf8(object.as_string());
        if (auto i = normalize_index(key.as_int(), cps.size())) {
          std::string ch;
          append_utf8(ch, cps[*i]);
          return Value(std::move(ch), object.is_markup());
        }
        return Value::undefined(
            fmt::format("'{}' has no element {}", object_description(object), key.as_int()));
      }
      break;
    default:
      break;
  }
  // Jinja2 falls back to the attribute of that name when the item lookup fails.
  if (key.is_string()) {
    if (object.is_dict()) {
      if (has_python_method(object, key.as_string())) return bound_method(object, key.as_string());
      return missing_attribute(object, key.as_string());
    }
    return get_attribute(object, key.as_string());
  }
  return Value::undefined(fmt::format("'{}' has no element {}", object_description(object), to_repr(key)));
}

Value get_slice(const Value& object, const Value& start, const Value& stop, const Value& step) {
  // Jinja2 compiles x[a:b] to a plain Python subscript (only x[key] goes through environment.getitem),
  // so a bad slice raises instead of giving Undefined.
  if (object.is_undefined()) raise_undefined(object);
  const bool is_string = object.is_string();
  if (!is_string && !(object.is_sequence() && subscriptable(object.seq()))) {
    if (object.is_dict()) eval_fail("unhashable type: 'slice'");
    eval_fail("'{}' object is not subscriptable", type_name(object));
  }
  for (const Value* bound : {&start, &stop, &step}) {
    if (!bound->is_undefined() && !bound->is_none() && !bound->is_integral()) {
      eval_fail("slice indices must be integers or None or have an __index__ method");
    }
  }
  const std::int64_t s = step.is_integral() ? step.as_int() : 1;
  if (s == 0) eval_fail("slice step cannot be zero");
  const std::u32string cps = is_string ? decode_utf8(object.as_string()) : std::u32string();
  const auto n = static_cast<std::int64_t>(is_string ? cps.size() : object.seq().items.size());
  // PySlice_AdjustIndices.
  auto adjust = [&](const Value& bound, std::int64_t default_value) {
    if (!bound.is_integral()) return default_value;
    std::int64_t i = bound.as_int();
    if (i < 0) {
      i += n;
      if (i < 0) i = s < 0 ? -1 : 0;
    } else if (i >= n) {
      i = s < 0 ? n - 1 : n;
    }
    return i;
  };
  const std::int64_t begin = adjust(start, s < 0 ? n - 1 : 0);
  const std::int64_t end = adjust(stop, s < 0 ? -1 : n);
  std::vector<std::int64_t> indices;
  for (std::int64_t i = begin; s > 0 ? i < end : i > end; i += s) indices.push_back(i);
  if (is_string) {
    std::string out;
    for (std::int64_t i : indices) append_utf8(out, cps[static_cast<std::size_t>(i)]);
    return Value(std::move(out), object.is_markup());
  }
  const Sequence& seq = object.seq();
  auto result = std::make_shared<Sequence>();
  result->kind = seq.kind;
  result->items.reserve(indices.size());
  for (std::int64_t i : indices) result->items.push_back(seq.items[static_cast<std::size_t>(i)]);
  if (seq.kind == SeqKind::Range) {  // CPython: range(start + i*step, start + j*step, step*k)
    result->range_start = seq.range_start + begin * seq.range_step;
    result->range_stop = seq.range_start + end * seq.range_step;
    result->range_step = seq.range_step * s;
  }
  return Value(std::shared_ptr<const Sequence>(std::move(result)));
}

Value binary_op(BinaryOp op, const Value& left, const Value& right, const BuildLimits& limits) {
  if (left.is_undefined()) raise_undefined(left);
  if (right.is_undefined()) raise_undefined(right);
  switch (op) {
    case BinaryOp::Add:
      return add(left, right, limits);
    case BinaryOp::Mul:
      if (repeatable(left) && right.is_integral()) return repeat(left, right.as_int(), limits);
      if (left.is_integral() && repeatable(right)) return repeat(right, left.as_int(), limits);
      return arithmetic(op, left, right);
    case BinaryOp::Mod:
      if (left.is_string()) {
        std::string out = python_printf(left.as_string(), right, limits);
        return Value(std::move(out), left.is_markup());
      }
      return arithmetic(op, left, right);
    default:
      return arithmetic(op, left, right);
  }
}

Value unary_minus(const Value& v) {
  if (v.is_undefined()) raise_undefined(v);
  if (v.is_float()) return Value(-v.as_float());
  if (v.is_integral()) {
    std::int64_t r = 0;
    const bool overflow = __builtin_sub_overflow(std::int64_t{0}, v.as_int(), &r);
    return Value(checked(overflow, r));
  }
  eval_fail("bad operand type for unary -: '{}'", type_name(v));
}

Value unary_plus(const Value& v) {
  if (v.is_undefined()) raise_undefined(v);
  if (v.is_float()) return v;
  if (v.is_integral()) return Value(v.as_int());
  eval_fail("bad operand type for unary +: '{}'", type_name(v));
}

bool compare(CompareOp op, const Value& left, const Value& right) {
  switch (op) {
    case CompareOp::Eq:
      return equals(left, right);
    case CompareOp::Ne:
      return !equals(left, right);
    case CompareOp::In:
      return contains(right, left);
    case CompareOp::NotIn:
      return !contains(right, left);
    default:
      break;
  }
  if (left.is_undefined()) raise_undefined(left);
  if (right.is_undefined()) raise_undefined(right);
  static constexpr std::string_view kSymbols[] = {"==", "!=", "<", "<=", ">", ">="};
  const auto o = order(left, right);
  if (!o) {
    eval_fail("'{}' not supported between instances of '{}' and '{}'", kSymbols[static_cast<int>(op)],
              type_name(left), type_name(right));
  }
  if (*o == 2) return false;  // NaN
  switch (op) {
    case CompareOp::Lt:
      return *o < 0;
    case CompareOp::Le:
      return *o <= 0;
    case CompareOp::Gt:
      return *o > 0;
    case CompareOp::Ge:
      return *o >= 0;
    default:
      return false;
  }
}

bool python_less(const Value& a, const Value& b) { return compare(CompareOp::Lt, a, b); }

bool contains(const Value& container, const Value& item) {
  switch (container.kind()) {
    case Kind::Undefined:
      return false;  // Undefined iterates as empty
    case Kind::String:
      if (!item.is_string()) {
        if (item.is_undefined()) raise_undefined(item);
        eval_fail("'in <string>' requires string as left operand, not {}", type_name(item));
      }
      return container.as_string().find(item.as_string()) != std::string::npos;
    case Kind::Sequence:
      for (const Value& v : container.seq().items) {
        if (equals(v, item)) return true;
      }
      return false;
    case Kind::Dict:
      if (item.is_sequence() && item.seq().kind == SeqKind::List) eval_fail("unhashable type: 'list'");
      if (item.is_dict()) eval_fail("unhashable type: 'dict'");
      return container.dict().find(item) != nullptr;
    default:
      eval_fail("argument of type '{}' is not iterable", type_name(container));
  }
}

std::int64_t length(const Value& v) {
  switch (v.kind()) {
    case Kind::Undefined:
      return 0;
    case Kind::String:
      return static_cast<std::int64_t>(code_point_count(v.as_string()));
    case Kind::Sequence:
      if (v.seq().kind == SeqKind::Generator || v.seq().kind == SeqKind::ReverseIterator) break;
      return static_cast<std::int64_t>(v.seq().items.size());
    case Kind::Dict:
      return static_cast<std::int64_t>(v.dict().size());
    case Kind::Loop:
      return static_cast<std::int64_t>(v.loop().items->size());
    default:
      break;
  }
  eval_fail("object of type '{}' has no len()", type_name(v));
}

std::vector<Value> iterate(const Value& v) {
  switch (v.kind()) {
    case Kind::Undefined:
      return {};
    case Kind::String: {
      std::vector<Value> chars;
      for (char32_t c : decode_utf8(v.as_string())) {
        std::string s;
        append_utf8(s, c);
        chars.emplace_back(std::move(s));
      }
      return chars;
    }
    case Kind::Sequence:
      return v.seq().items;
    case Kind::Dict: {
      std::vector<Value> keys;
      keys.reserve(v.dict().size());
      for (const auto& entry : v.dict().entries) keys.push_back(entry.first);
      return keys;
    }
    default:
      eval_fail("'{}' object is not iterable", type_name(v));
  }
}

}  // namespace strata::jinja
