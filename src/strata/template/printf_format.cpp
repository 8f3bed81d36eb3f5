#include "strata/template/printf_format.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <variant>

#include "strata/template/operators.h"
#include "strata/template/pyformat.h"
#include "strata/template/unicode.h"

namespace strata::jinja {
namespace {

struct Spec {
  std::string flags;
  int width = -1;
  int precision = -1;
  char conversion = 's';
};

using Piece = std::variant<std::string, Spec>;

constexpr std::string_view kConversions = "srdiufFeEgGxXoc";

// Splits a format into literal text and conversion specs; the error explains what cannot be used.
std::vector<Piece> parse(std::string_view format, std::string* error) {
  std::vector<Piece> pieces;
  std::string literal;
  for (std::size_t i = 0; i < format.size(); ++i) {
    if (format[i] != '%') {
      literal.push_back(format[i]);
      continue;
    }
    if (++i >= format.size()) {
      *error = "incomplete format (a '%' at the end)";
      return {};
    }
    if (format[i] == '%') {
      literal.push_back('%');
      continue;
    }
    if (format[i] == '(') {
      *error = "printf-style mapping keys ('%(name)s') are not supported";
      return {};
    }
    Spec spec;
    while (i < format.size() && std::string_view("-+ #0").find(format[i]) != std::string_view::npos) {
      spec.flags.push_back(format[i++]);
    }
    if (i < format.size() && format[i] == '*') {
      *error = "'*' widths in printf-style formats are not supported";
      return {};
    }
    bool too_large = false;
    auto number = [&]() {
      int n = 0;
      while (i < format.size() && format[i] >= '0' && format[i] <= '9') {
        n = n * 10 + (format[i++] - '0');
        if (n > 100000) too_large = true, n = 100000;
      }
      return n;
    };
    if (i < format.size() && format[i] >= '0' && format[i] <= '9') spec.width = number();
    if (i < format.size() && format[i] == '.') {
      ++i;
      if (i < format.size() && format[i] == '*') {
        *error = "'*' precisions in printf-style formats are not supported";
        return {};
      }
      spec.precision = number();
    }
    if (too_large) {
      *error = "printf-style width or precision above 100000";
      return {};
    }
    while (i < format.size() && (format[i] == 'h' || format[i] == 'l' || format[i] == 'L')) ++i;
    if (i >= format.size() || kConversions.find(format[i]) == std::string_view::npos) {
      *error = i >= format.size()
                   ? "incomplete format"
                   : fmt::format("unsupported format character '{}' in a printf-style format", format[i]);
      return {};
    }
    spec.conversion = format[i];
    if (!literal.empty()) pieces.emplace_back(std::move(literal));
    literal.clear();
    pieces.emplace_back(spec);
  }
  if (!literal.empty()) pieces.emplace_back(std::move(literal));
  return pieces;
}

bool has_flag(const Spec& spec, char flag) { return spec.flags.find(flag) != std::string::npos; }

std::string pad(std::string body, const Spec& spec) {
  const auto width = static_cast<std::size_t>(std::max(spec.width, 0));
  const std::size_t length = code_point_count(body);
  if (length >= width) return body;
  const std::string fill(width - length, ' ');
  return has_flag(spec, '-') ? body + fill : fill + body;
}

std::string format_integer(std::int64_t value, const Spec& spec) {
  const int base = spec.conversion == 'x' || spec.conversion == 'X' ? 16 : spec.conversion == 'o' ? 8 : 10;
  const char* digit_chars = spec.conversion == 'X' ? "0123456789ABCDEF" : "0123456789abcdef";
  unsigned long long magnitude =
      value < 0 ? 0ULL - static_cast<unsigned long long>(value) : static_cast<unsigned long long>(value);
  std::string digits;
  do {
    digits.insert(digits.begin(), digit_chars[magnitude % static_cast<unsigned>(base)]);
    magnitude /= static_cast<unsigned>(base);
  } while (magnitude > 0);
  if (spec.precision > 0 && digits.size() < static_cast<std::size_t>(spec.precision)) {
    digits.insert(0, static_cast<std::size_t>(spec.precision) - digits.size(), '0');
  }
  std::string prefix = value < 0 ? "-" : has_flag(spec, '+') ? "+" : has_flag(spec, ' ') ? " " : "";
  if (has_flag(spec, '#') && base != 10) prefix += spec.conversion == 'X' ? "0X" : base == 16 ? "0x" : "0o";
  const auto width = static_cast<std::size_t>(std::max(spec.width, 0));
  if (has_flag(spec, '0') && !has_flag(spec, '-') && prefix.size() + digits.size() < width) {
    digits.insert(0, width - prefix.size() - digits.size(), '0');
  }
  return pad(prefix + digits, spec);
}

std::string format_float(double value, const Spec& spec) {
  std::string c_format(1, '%');
  c_format += spec.flags;
  if (spec.width >= 0) c_format += std::to_string(spec.width);
  if (spec.precision >= 0) c_format += fmt::format(".{}", spec.precision);
  c_format.push_back(spec.conversion);
  const int n = std::snprintf(nullptr, 0, c_format.c_str(), value);
  std::string out(static_cast<std::size_t>(n) + 1, '\0');
  std::snprintf(out.data(), out.size(), c_format.c_str(), value);
  out.resize(static_cast<std::size_t>(n));
  return out;
}

std::string convert(const Spec& spec, const Value& v) {
  if (v.is_undefined() && spec.conversion != 's' && spec.conversion != 'r') raise_undefined(v);
  switch (spec.conversion) {
    case 's':
    case 'r': {
      std::string text = spec.conversion == 's' ? to_str(v) : to_repr(v);
      if (spec.precision >= 0) {
        const std::u32string cps = decode_utf8(text);
        if (cps.size() > static_cast<std::size_t>(spec.precision)) {
          text = encode_utf8(std::u32string_view(cps).substr(0, static_cast<std::size_t>(spec.precision)));
        }
      }
      return pad(std::move(text), spec);
    }
    case 'd':
    case 'i':
    case 'u':
      if (v.is_float()) return format_integer(static_cast<std::int64_t>(std::trunc(v.as_float())), spec);
      if (!v.is_integral())
        eval_fail("%{} format: a real number is required, not {}", spec.conversion, type_name(v));
      return format_integer(v.as_int(), spec);
    case 'x':
    case 'X':
    case 'o':
      if (!v.is_integral())
        eval_fail("%{} format: an integer is required, not {}", spec.conversion, type_name(v));
      return format_integer(v.as_int(), spec);
    case 'c':
      if (v.is_integral()) {
        std::string s;
        append_utf8(s, static_cast<char32_t>(v.as_int()));
        return pad(std::move(s), spec);
      }
      if (v.is_string() && code_point_count(v.as_string()) == 1) return pad(v.as_string(), spec);
      eval_fail("%c requires an int or a unicode character, not {}", type_name(v));
    default:
      if (!v.is_number()) eval_fail("must be real number, not {}", type_name(v));
      return format_float(v.as_float(), spec);
  }
}

}  // namespace

std::optional<std::string> check_printf_format(std::string_view format) {
  std::string error;
  parse(format, &error);
  if (!error.empty()) return error;
  return std::nullopt;
}

std::string python_printf(std::string_view format, const Value& args, const BuildLimits& limits) {
  std::string error;
  const std::vector<Piece> pieces = parse(format, &error);
  if (!error.empty()) eval_fail("{}", error);
  std::vector<Value> values;
  if (args.is_sequence() && args.seq().kind == SeqKind::Tuple) {
    values = args.seq().items;
  } else {
    values.push_back(args);
  }
  std::string out;
  std::size_t next = 0;
  for (const Piece& piece : pieces) {
    if (const auto* text = std::get_if<std::string>(&piece)) {
      out += *text;
      continue;
    }
    if (next >= values.size()) eval_fail("not enough arguments for format string");
    out += convert(std::get<Spec>(piece), values[next++]);
    check_string_size(out.size(), limits);
  }
  // A lone dict argument is a mapping for %(key)s formats, so Python does not complain about it.
  const bool lone_mapping = values.size() == 1 && values[0].is_dict() && !args.is_sequence();
  if (next < values.size() && !lone_mapping)
    eval_fail("not all arguments converted during string formatting");
  return out;
}

}  // namespace strata::jinja
