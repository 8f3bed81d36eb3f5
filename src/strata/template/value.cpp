#include "strata/template/value.h"

#include <limits>

#include <nlohmann/json.hpp>

#include "strata/core/error.h"
#include "strata/template/unicode.h"

namespace strata::jinja {

Value Value::list(std::vector<Value> items) { return sequence(SeqKind::List, std::move(items)); }
Value Value::tuple(std::vector<Value> items) { return sequence(SeqKind::Tuple, std::move(items)); }

Value Value::sequence(SeqKind kind, std::vector<Value> items) {
  auto seq = std::make_shared<Sequence>();
  seq->kind = kind;
  seq->items = std::move(items);
  return Value(std::shared_ptr<const Sequence>(std::move(seq)));
}

const std::string& Value::undefined_hint() const {
  static const std::string kNoHint = "value is undefined";
  if (const auto* hint = std::get_if<std::string>(&payload_)) return *hint;
  return kNoHint;
}

const void* Value::identity() const {
  switch (kind_) {
    case Kind::Sequence:
      return seq_ptr().get();
    case Kind::Dict:
      return dict_ptr().get();
    case Kind::Namespace:
      return &ns();
    case Kind::Macro:
      return &macro();
    case Kind::Loop:
      return &loop();
    default:
      return nullptr;  // scalars: compared by value
  }
}

const Value* Dict::find(std::string_view key) const {
  auto it = string_index_.find(std::string(key));
  return it == string_index_.end() ? nullptr : &entries[it->second].second;
}

const Value* Dict::find(const Value& key) const {
  if (key.is_string()) return find(std::string_view(key.as_string()));
  for (const auto& [k, v] : entries) {
    if (equals(k, key)) return &v;
  }
  return nullptr;
}

void Dict::set(Value key, Value value) {
  if (key.is_string()) {
    auto [it, inserted] = string_index_.emplace(key.as_string(), entries.size());
    if (!inserted) {
      entries[it->second].second = std::move(value);
      return;
    }
    entries.emplace_back(std::move(key), std::move(value));
    return;
  }
  for (auto& [k, v] : entries) {
    if (equals(k, key)) {
      v = std::move(value);
      return;
    }
  }
  entries.emplace_back(std::move(key), std::move(value));
}

bool truthy(const Value& v) {
  switch (v.kind()) {
    case Kind::Undefined:
    case Kind::None:
      return false;
    case Kind::Bool:
      return v.as_bool();
    case Kind::Int:
      return v.as_int() != 0;
    case Kind::Float:
      return v.as_float() != 0.0;
    case Kind::String:
      return !v.as_string().empty();
    case Kind::Sequence:
      // Iterators have no __len__, so Python calls any of them true, even an empty one.
      if (v.seq().kind == SeqKind::Generator || v.seq().kind == SeqKind::ReverseIterator) return true;
      return !v.seq().items.empty();
    case Kind::Dict:
      return v.dict().size() != 0;
    default:
      return true;
  }
}

std::string_view type_name(const Value& v) {
  switch (v.kind()) {
    case Kind::Undefined:
      return "Undefined";
    case Kind::None:
      return "NoneType";
    case Kind::Bool:
      return "bool";
    case Kind::Int:
      return "int";
    case Kind::Float:
      return "float";
    case Kind::String:
      return v.is_markup() ? "Markup" : "str";
    case Kind::Sequence:
      switch (v.seq().kind) {
        case SeqKind::List:
          return "list";
        case SeqKind::Tuple:
          return "tuple";
        case SeqKind::Range:
          return "range";
        case SeqKind::Generator:
          return "generator";
        case SeqKind::ReverseIterator:
          return "list_reverseiterator";
        case SeqKind::DictItems:
          return "dict_items";
        case SeqKind::DictKeys:
          return "dict_keys";
        case SeqKind::DictValues:
          return "dict_values";
      }
      return "list";
    case Kind::Dict:
      return "dict";
    case Kind::Namespace:
      return "Namespace";
    case Kind::Macro:
      return "Macro";
    case Kind::Loop:
      return "LoopContext";
    case Kind::Function:
    case Kind::Method:
      return "builtin_function_or_method";
  }
  return "object";
}

namespace {

bool list_like(SeqKind kind) {
  return kind == SeqKind::List || kind == SeqKind::Tuple || kind == SeqKind::Range;
}

bool items_equal(const std::vector<Value>& a, const std::vector<Value>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (!equals(a[i], b[i])) return false;
  }
  return true;
}

}  // namespace

bool equals(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) {
    if (a.is_float() || b.is_float()) return a.as_float() == b.as_float();
    return a.as_int() == b.as_int();
  }
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case Kind::Undefined:
    case Kind::None:
      return true;
    case Kind::String:
      return a.as_string() == b.as_string();
    case Kind::Sequence: {
      const SeqKind ka = a.seq().kind, kb = b.seq().kind;
      // list == list and tuple == tuple compare items; range == range too; list != tuple in Python.
      if (ka != kb || !list_like(ka)) return a.identity() == b.identity();
      return items_equal(a.seq().items, b.seq().items);
    }
    case Kind::Dict: {
      if (a.dict().size() != b.dict().size()) return false;
      for (const auto& [key, value] : a.dict().entries) {
        const Value* other = b.dict().find(key);
        if (other == nullptr || !equals(value, *other)) return false;
      }
      return true;
    }
    case Kind::Function:
      return a.builtin() == b.builtin();
    default:
      return a.identity() == b.identity();
  }
}

namespace {

template <typename Json>
Value convert_json(const Json& json, int depth) {
  if (depth > 512) fail("template context: JSON nests deeper than 512 levels");
  switch (json.type()) {
    case nlohmann::json::value_t::null:
    case nlohmann::json::value_t::discarded:
      return Value::none();
    case nlohmann::json::value_t::boolean:
      return Value(json.template get<bool>());
    case nlohmann::json::value_t::number_integer:
      return Value(json.template get<std::int64_t>());
    case nlohmann::json::value_t::number_unsigned: {
      const auto u = json.template get<std::uint64_t>();
      if (u > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
        fail("template context: integer {} is out of range (strata's template integers are 64-bit)", u);
      }
      return Value(static_cast<std::int64_t>(u));
    }
    case nlohmann::json::value_t::number_float:
      return Value(json.template get<double>());
    case nlohmann::json::value_t::string: {
      const auto& s = json.template get_ref<const std::string&>();
      if (!is_valid_utf8(s)) fail("template context: a string is not valid UTF-8");
      return Value(s);
    }
    case nlohmann::json::value_t::array: {
      std::vector<Value> items;
      items.reserve(json.size());
      for (const auto& item : json) items.push_back(convert_json(item, depth + 1));
      return Value::list(std::move(items));
    }
    case nlohmann::json::value_t::object: {
      auto dict = std::make_shared<Dict>();
      for (auto it = json.begin(); it != json.end(); ++it) {
        if (!is_valid_utf8(it.key())) fail("template context: an object key is not valid UTF-8");
        dict->set(Value(it.key()), convert_json(it.value(), depth + 1));
      }
      return Value(std::shared_ptr<const Dict>(std::move(dict)));
    }
    case nlohmann::json::value_t::binary:
      fail("template context: binary JSON values are not supported");
  }
  return Value::none();
}

}  // namespace

template <typename Json>
Value from_json(const Json& json) {
  return convert_json(json, 0);
}

template Value from_json<nlohmann::json>(const nlohmann::json&);
template Value from_json<nlohmann::ordered_json>(const nlohmann::ordered_json&);

}  // namespace strata::jinja
