#include "strata/template/pyformat.h"

#include <charconv>
#include <cmath>
#include <cstdlib>

#include "strata/template/unicode.h"

namespace strata::jinja {

std::string float_repr(double d) {
  if (std::isnan(d)) return "nan";
  if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
  // The shortest digits that round-trip, as CPython's repr uses; only the layout rules differ.
  char buf[64];
  const auto result = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
  const std::string_view text(buf, static_cast<std::size_t>(result.ptr - buf));
  std::string out;
  std::size_t i = 0;
  if (text[0] == '-') {
    out.push_back('-');
    i = 1;
  }
  const std::size_t e = text.find('e');
  std::string digits;
  for (std::size_t k = i; k < e; ++k) {
    if (text[k] != '.') digits.push_back(text[k]);
  }
  const int exponent = std::atoi(std::string(text.substr(e + 1)).c_str());
  // Python's rule (format_float_short): positional notation while the decimal point falls within
  // -4 < decpt <= 16, where decpt counts the digits before the point.
  const int decpt = exponent + 1;
  const int ndigits = static_cast<int>(digits.size());
  if (decpt > -4 && decpt <= 16) {
    if (decpt <= 0) {
      out += "0.";
      out.append(static_cast<std::size_t>(-decpt), '0');
      out += digits;
    } else if (decpt >= ndigits) {
      out += digits;
      out.append(static_cast<std::size_t>(decpt - ndigits), '0');
      out += ".0";
    } else {
      out += digits.substr(0, static_cast<std::size_t>(decpt));
      out.push_back('.');
      out += digits.substr(static_cast<std::size_t>(decpt));
    }
    return out;
  }
  out.push_back(digits[0]);
  if (ndigits > 1) {
    out.push_back('.');
    out += digits.substr(1);
  }
  out.push_back('e');
  out.push_back(exponent < 0 ? '-' : '+');
  const int magnitude = std::abs(exponent);
  if (magnitude < 10) out.push_back('0');
  out += std::to_string(magnitude);
  return out;
}

std::string string_repr(std::string_view s) {
  const std::u32string cps = decode_utf8(s);
  const bool has_single = cps.find(U'\'') != std::u32string::npos;
  const bool has_double = cps.find(U'"') != std::u32string::npos;
  const char32_t quote = has_single && !has_double ? U'"' : U'\'';
  std::string out;
  out.push_back(static_cast<char>(quote));
  for (char32_t c : cps) {
    if (c == quote || c == U'\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
    } else if (c == U'\t') {
      out += "\\t";
    } else if (c == U'\n') {
      out += "\\n";
    } else if (c == U'\r') {
      out += "\\r";
    } else if (!is_python_printable(c)) {
      if (c < 0x100) {
        out += fmt::format("\\x{:02x}", static_cast<unsigned>(c));
      } else if (c < 0x10000) {
        out += fmt::format("\\u{:04x}", static_cast<unsigned>(c));
      } else {
        out += fmt::format("\\U{:08x}", static_cast<unsigned>(c));
      }
    } else {
      append_utf8(out, c);
    }
  }
  out.push_back(static_cast<char>(quote));
  return out;
}

std::string html_escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '\'':
        out += "&#39;";
        break;
      case '"':
        out += "&#34;";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

namespace {

std::string join_repr(const std::vector<Value>& items) {
  std::string out;
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i) out += ", ";
    out += to_repr(items[i]);
  }
  return out;
}

std::string dict_repr(const Dict& dict) {
  std::string out = "{";
  bool first = true;
  for (const auto& [key, value] : dict.entries) {
    if (!first) out += ", ";
    first = false;
    out += to_repr(key);
    out += ": ";
    out += to_repr(value);
  }
  out += "}";
  return out;
}

std::string sequence_repr(const Sequence& seq) {
  switch (seq.kind) {
    case SeqKind::List:
      return fmt::format("[{}]", join_repr(seq.items));
    case SeqKind::Tuple:
      return seq.items.size() == 1 ? fmt::format("({},)", to_repr(seq.items[0]))
                                   : fmt::format("({})", join_repr(seq.items));
    case SeqKind::Range:
      return seq.range_step == 1
                 ? fmt::format("range({}, {})", seq.range_start, seq.range_stop)
                 : fmt::format("range({}, {}, {})", seq.range_start, seq.range_stop, seq.range_step);
    case SeqKind::DictItems:
      return fmt::format("dict_items([{}])", join_repr(seq.items));
    case SeqKind::DictKeys:
      return fmt::format("dict_keys([{}])", join_repr(seq.items));
    case SeqKind::DictValues:
      return fmt::format("dict_values([{}])", join_repr(seq.items));
    case SeqKind::Generator:
    case SeqKind::ReverseIterator:
      break;
  }
  eval_fail("cannot print a {} (Jinja2 prints its memory address); convert it with |list first",
            seq.kind == SeqKind::Generator ? "generator" : "list_reverseiterator");
}

}  // namespace

std::string to_repr(const Value& v) {
  // Containers are immutable, but a namespace can contain itself; Python would print "..." there.
  static thread_local int depth = 0;
  struct DepthGuard {
    DepthGuard() {
      if (++depth > 500) {
        --depth;
        eval_fail("a value nests too deeply (or contains itself) to be printed");
      }
    }
    ~DepthGuard() { --depth; }
  } guard;
  switch (v.kind()) {
    case Kind::Undefined:
      return "Undefined";
    case Kind::None:
      return "None";
    case Kind::Bool:
      return v.as_bool() ? "True" : "False";
    case Kind::Int:
      return std::to_string(v.as_int());
    case Kind::Float:
      return float_repr(v.as_float());
    case Kind::String:
      return v.is_markup() ? fmt::format("Markup({})", string_repr(v.as_string()))
                           : string_repr(v.as_string());
    case Kind::Sequence:
      return sequence_repr(v.seq());
    case Kind::Dict:
      return dict_repr(v.dict());
    case Kind::Namespace:
      return fmt::format("<Namespace {}>", dict_repr(v.ns().attrs));
    case Kind::Loop:
      return fmt::format("<LoopContext {}/{}>", v.loop().index0 + 1,
                         v.loop().items ? v.loop().items->size() : 0);
    case Kind::Macro:
    case Kind::Function:
    case Kind::Method:
      break;
  }
  eval_fail("cannot print a {} (Jinja2 prints its memory address)", type_name(v));
}

std::string to_str(const Value& v) {
  switch (v.kind()) {
    case Kind::Undefined:
      return "";
    case Kind::String:
      return v.as_string();
    default:
      return to_repr(v);
  }
}

}  // namespace strata::jinja
