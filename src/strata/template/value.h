// The template engine's values: what Jinja2 sees as Python objects. JSON context comes in as
// None/bool/int/float/str/list/dict; templates also make tuples, ranges, lazy iterators (what |map,
// |select and |items return in Python), namespaces, macros and the loop object. Containers are shared and
// immutable (transformers renders in an ImmutableSandboxedEnvironment), except namespaces, which `set
// ns.x = ...` mutates. Undefined carries the message Jinja2 would raise if it is used.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

#include <fmt/format.h>

namespace strata::jinja {

struct SourcePos {
  int line = 0;
  int column = 0;
};

// A failure while rendering (a type error in the data, raise_exception, a limit). The renderer records the
// position of the innermost expression or statement; ChatTemplate turns it into strata::Error.
class EvalError : public std::runtime_error {
 public:
  explicit EvalError(const std::string& message) : std::runtime_error(message) {}
  std::optional<SourcePos> pos;
};

template <typename... Args>
[[noreturn]] void eval_fail(fmt::format_string<Args...> format, Args&&... args) {
  throw EvalError(fmt::format(format, std::forward<Args>(args)...));
}

enum class Kind : std::uint8_t {
  Undefined,
  None,
  Bool,
  Int,
  Float,
  String,
  Sequence,
  Dict,
  Namespace,
  Macro,
  Loop,
  Function,
  Method
};

// Python types that all behave as "a sequence of items" here but print, index and measure differently.
enum class SeqKind : std::uint8_t {
  List,
  Tuple,
  Range,
  Generator,        // |map, |select, |items...: iterable once in Python, no len(), prints as an address
  ReverseIterator,  // |reverse of a list
  DictItems,
  DictKeys,
  DictValues,  // dict views: len() and iteration, no indexing
};

// The global functions transformers' environment offers (Jinja2's range, dict, namespace; transformers'
// raise_exception and strftime_now).
enum class Builtin : std::uint8_t { Range, Dict, Namespace, RaiseException, StrftimeNow };

class Value;
struct Sequence;
struct Dict;
struct Namespace;
struct LoopState;
struct Macro;  // defined by the renderer
struct BoundMethod;

class Value {
 public:
  Value() = default;  // undefined
  static Value undefined(std::string hint) {
    Value v;
    v.payload_ = std::move(hint);
    return v;
  }
  static Value none() { return Value(Kind::None); }
  Value(bool b) : kind_(Kind::Bool), payload_(b) {}         // NOLINT: implicit on purpose
  Value(std::int64_t i) : kind_(Kind::Int), payload_(i) {}  // NOLINT
  Value(int i) : Value(static_cast<std::int64_t>(i)) {}     // NOLINT
  Value(double f) : kind_(Kind::Float), payload_(f) {}      // NOLINT
  Value(std::string s, bool markup = false)
      : kind_(Kind::String), markup_(markup), payload_(std::move(s)) {}                         // NOLINT
  Value(const char* s) : Value(std::string(s)) {}                                               // NOLINT
  Value(std::shared_ptr<const Sequence> s) : kind_(Kind::Sequence), payload_(std::move(s)) {}   // NOLINT
  Value(std::shared_ptr<const Dict> d) : kind_(Kind::Dict), payload_(std::move(d)) {}           // NOLINT
  Value(std::shared_ptr<Namespace> n) : kind_(Kind::Namespace), payload_(std::move(n)) {}       // NOLINT
  Value(std::shared_ptr<const Macro> m) : kind_(Kind::Macro), payload_(std::move(m)) {}         // NOLINT
  Value(std::shared_ptr<LoopState> l) : kind_(Kind::Loop), payload_(std::move(l)) {}            // NOLINT
  Value(Builtin f) : kind_(Kind::Function), payload_(f) {}                                      // NOLINT
  Value(std::shared_ptr<const BoundMethod> m) : kind_(Kind::Method), payload_(std::move(m)) {}  // NOLINT

  static Value list(std::vector<Value> items);
  static Value tuple(std::vector<Value> items);
  static Value sequence(SeqKind kind, std::vector<Value> items);
  static Value markup(std::string s) { return Value(std::move(s), true); }

  Kind kind() const { return kind_; }
  bool is_undefined() const { return kind_ == Kind::Undefined; }
  bool is_none() const { return kind_ == Kind::None; }
  bool is_bool() const { return kind_ == Kind::Bool; }
  bool is_int() const { return kind_ == Kind::Int; }
  bool is_float() const { return kind_ == Kind::Float; }
  // int, float or bool: Python's numbers (bool is an int subclass).
  bool is_number() const { return kind_ == Kind::Int || kind_ == Kind::Float || kind_ == Kind::Bool; }
  bool is_integral() const { return kind_ == Kind::Int || kind_ == Kind::Bool; }
  bool is_string() const { return kind_ == Kind::String; }
  bool is_markup() const { return markup_; }
  bool is_sequence() const { return kind_ == Kind::Sequence; }
  bool is_dict() const { return kind_ == Kind::Dict; }

  bool as_bool() const { return std::get<bool>(payload_); }
  std::int64_t as_int() const {  // int or bool
    return kind_ == Kind::Bool ? std::int64_t{std::get<bool>(payload_)} : std::get<std::int64_t>(payload_);
  }
  double as_float() const {  // any number
    return kind_ == Kind::Float ? std::get<double>(payload_) : static_cast<double>(as_int());
  }
  const std::string& as_string() const { return std::get<std::string>(payload_); }
  const std::string& undefined_hint() const;
  const Sequence& seq() const { return *std::get<std::shared_ptr<const Sequence>>(payload_); }
  const std::shared_ptr<const Sequence>& seq_ptr() const {
    return std::get<std::shared_ptr<const Sequence>>(payload_);
  }
  const Dict& dict() const { return *std::get<std::shared_ptr<const Dict>>(payload_); }
  const std::shared_ptr<const Dict>& dict_ptr() const {
    return std::get<std::shared_ptr<const Dict>>(payload_);
  }
  Namespace& ns() const { return *std::get<std::shared_ptr<Namespace>>(payload_); }
  const Macro& macro() const { return *std::get<std::shared_ptr<const Macro>>(payload_); }
  LoopState& loop() const { return *std::get<std::shared_ptr<LoopState>>(payload_); }
  Builtin builtin() const { return std::get<Builtin>(payload_); }
  const BoundMethod& method() const { return *std::get<std::shared_ptr<const BoundMethod>>(payload_); }
  // Identity for Python's `is` (the sameas test): shared objects by address, scalars by value.
  const void* identity() const;

 private:
  explicit Value(Kind kind) : kind_(kind) {}
  Kind kind_ = Kind::Undefined;
  bool markup_ = false;  // markupsafe.Markup: a str that escapes what is added to it
  std::variant<std::monostate, bool, std::int64_t, double, std::string, std::shared_ptr<const Sequence>,
               std::shared_ptr<const Dict>, std::shared_ptr<Namespace>, std::shared_ptr<const Macro>,
               std::shared_ptr<LoopState>, Builtin, std::shared_ptr<const BoundMethod>>
      payload_;
};

struct Sequence {
  SeqKind kind = SeqKind::List;
  std::vector<Value> items;
  std::int64_t range_start = 0, range_stop = 0, range_step = 1;  // SeqKind::Range, for printing
};

// An insertion-ordered dict (Python 3.7+ order) with an index on string keys, the only keys JSON has.
struct Dict {
  std::vector<std::pair<Value, Value>> entries;
  const Value* find(const Value& key) const;
  const Value* find(std::string_view key) const;
  void set(Value key, Value value);
  std::size_t size() const { return entries.size(); }

 private:
  std::unordered_map<std::string, std::size_t> string_index_;
};

struct Namespace {
  Dict attrs;
};

// Jinja2's LoopContext for the innermost for loop: its items (after the loop's `if` filter) and position.
struct LoopState {
  std::shared_ptr<const std::vector<Value>> items;
  std::size_t index0 = 0;
  int depth0 = 0;
  std::optional<Value> last_changed;  // loop.changed(...) remembers its last arguments
  std::size_t cycle_calls = 0;
};

struct BoundMethod {
  Value receiver;
  std::string name;
};

// Python truthiness (Undefined is false, every generator is true, empty containers are false).
bool truthy(const Value& v);
// Python's type name, as error messages print it ('str', 'NoneType', 'dict_items'...).
std::string_view type_name(const Value& v);
// Python ==: numbers across int/float/bool, lists != tuples, dicts compare unordered, Undefined == Undefined.
bool equals(const Value& a, const Value& b);

// Converts a JSON value: objects keep their order (nlohmann::ordered_json) or the sorted order of a
// plain nlohmann::json. Throws strata::Error for invalid UTF-8 or integers past int64.
template <typename Json>
Value from_json(const Json& json);

}  // namespace strata::jinja
