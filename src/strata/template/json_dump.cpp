#include "strata/template/json_dump.h"

#include <algorithm>
#include <cmath>

#include "strata/template/pyformat.h"
#include "strata/template/unicode.h"

namespace strata::jinja {
namespace {

void append_json_string(std::string& out, std::string_view s, bool ensure_ascii) {
  out.push_back('"');
  for (char32_t c : decode_utf8(s)) {
    switch (c) {
      case U'"':
        out += "\\\"";
        break;
      case U'\\':
        out += "\\\\";
        break;
      case U'\n':
        out += "\\n";
        break;
      case U'\r':
        out += "\\r";
        break;
      case U'\t':
        out += "\\t";
        break;
      case U'\b':
        out += "\\b";
        break;
      case U'\f':
        out += "\\f";
        break;
      default:
        // ensure_ascii escapes everything outside ' '..'~' (DEL included); otherwise only controls.
        if (c < 0x20 || (ensure_ascii && c > 0x7E)) {
          if (c <= 0xFFFF) {
            out += fmt::format("\\u{:04x}", static_cast<unsigned>(c));
          } else {  // a surrogate pair, as Python writes astral characters when ensure_ascii is on
            const unsigned v = static_cast<unsigned>(c) - 0x10000;
            out += fmt::format("\\u{:04x}\\u{:04x}", 0xD800 | (v >> 10), 0xDC00 | (v & 0x3FF));
          }
        } else {
          append_utf8(out, c);
        }
    }
  }
  out.push_back('"');
}

std::string float_json(double d) {
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d > 0 ? "Infinity" : "-Infinity";
  return float_repr(d);
}

// json.dumps turns non-string keys into strings: True -> "true", None -> "null", numbers by repr.
std::string key_text(const Value& key) {
  switch (key.kind()) {
    case Kind::String:
      return key.as_string();
    case Kind::Bool:
      return key.as_bool() ? "true" : "false";
    case Kind::None:
      return "null";
    case Kind::Int:
      return std::to_string(key.as_int());
    case Kind::Float:
      return float_json(key.as_float());
    default:
      eval_fail("tojson: keys must be str, int, float, bool or None, not {}", type_name(key));
  }
}

bool key_less(const Value& a, const Value& b) {
  if (a.is_string() && b.is_string()) return a.as_string() < b.as_string();
  if (a.is_number() && b.is_number()) return a.as_float() < b.as_float();
  eval_fail("tojson(sort_keys=true): '<' not supported between instances of '{}' and '{}'", type_name(a),
            type_name(b));
}

class Dumper {
 public:
  explicit Dumper(const JsonDumpOptions& options) : options_(options) {
    item_separator_ = options.item_separator ? *options.item_separator : options.indent ? "," : ", ";
  }

  void dump(std::string& out, const Value& v, int depth) {
    if (depth > 1000) eval_fail("tojson: nesting is too deep");
    switch (v.kind()) {
      case Kind::None:
        out += "null";
        return;
      case Kind::Bool:
        out += v.as_bool() ? "true" : "false";
        return;
      case Kind::Int:
        out += std::to_string(v.as_int());
        return;
      case Kind::Float:
        out += float_json(v.as_float());
        return;
      case Kind::String:
        append_json_string(out, v.as_string(), options_.ensure_ascii);
        return;
      case Kind::Sequence:
        if (v.seq().kind == SeqKind::List || v.seq().kind == SeqKind::Tuple) {
          dump_array(out, v.seq().items, depth);
          return;
        }
        break;
      case Kind::Dict:
        dump_object(out, v.dict(), depth);
        return;
      default:
        break;
    }
    eval_fail("tojson: Object of type {} is not JSON serializable", type_name(v));
  }

 private:
  void newline(std::string& out, int depth) {
    out.push_back('\n');
    for (int i = 0; i < depth; ++i) out += *options_.indent;
  }

  void dump_array(std::string& out, const std::vector<Value>& items, int depth) {
    if (items.empty()) {
      out += "[]";
      return;
    }
    out.push_back('[');
    for (std::size_t i = 0; i < items.size(); ++i) {
      if (i) out += item_separator_;
      if (options_.indent) newline(out, depth + 1);
      dump(out, items[i], depth + 1);
    }
    if (options_.indent) newline(out, depth);
    out.push_back(']');
  }

  void dump_object(std::string& out, const Dict& dict, int depth) {
    if (dict.size() == 0) {
      out += "{}";
      return;
    }
    std::vector<const std::pair<Value, Value>*> entries;
    for (const auto& entry : dict.entries) entries.push_back(&entry);
    if (options_.sort_keys) {
      std::stable_sort(entries.begin(), entries.end(),
                       [](const auto* a, const auto* b) { return key_less(a->first, b->first); });
    }
    out.push_back('{');
    for (std::size_t i = 0; i < entries.size(); ++i) {
      if (i) out += item_separator_;
      if (options_.indent) newline(out, depth + 1);
      append_json_string(out, key_text(entries[i]->first), options_.ensure_ascii);
      out += options_.key_separator;
      dump(out, entries[i]->second, depth + 1);
    }
    if (options_.indent) newline(out, depth);
    out.push_back('}');
  }

  const JsonDumpOptions& options_;
  std::string item_separator_;
};

}  // namespace

std::string python_json_dumps(const Value& value, const JsonDumpOptions& options) {
  std::string out;
  Dumper(options).dump(out, value, 0);
  return out;
}

}  // namespace strata::jinja
