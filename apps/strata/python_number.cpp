#include "python_number.h"

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <limits>
#include <string>

#include "strata/core/error.h"

namespace strata::cli {

namespace {
std::string_view strip(std::string_view s) {
  const char* ws = " \t\n\r\v\f";
  const size_t b = s.find_first_not_of(ws);
  if (b == std::string_view::npos) return {};
  return s.substr(b, s.find_last_not_of(ws) - b + 1);
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != b[i]) return false;
  return true;
}

// Copies a run of digits that may contain single underscores between digits; returns false on a
// misplaced underscore. Advances i past the run.
bool take_digits(std::string_view s, size_t& i, std::string& out, bool& any) {
  bool previous_digit = false;
  while (i < s.size()) {
    const char c = s[i];
    if (std::isdigit(static_cast<unsigned char>(c))) {
      out += c;
      previous_digit = true;
      any = true;
    } else if (c == '_') {
      if (!previous_digit || i + 1 >= s.size() || !std::isdigit(static_cast<unsigned char>(s[i + 1])))
        return false;
      previous_digit = false;
    } else {
      break;
    }
    ++i;
  }
  return true;
}
}  // namespace

double parse_python_float(std::string_view text, std::string_view what) {
  const std::string_view s = strip(text);
  auto bad = [&]() -> double { fail("{}: could not convert string to float: '{}'", what, text); };
  size_t i = 0;
  std::string clean;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) clean += s[i++];
  const std::string_view rest = s.substr(i);
  if (iequals(rest, "inf") || iequals(rest, "infinity"))
    return clean == "-" ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::infinity();
  if (iequals(rest, "nan")) return std::numeric_limits<double>::quiet_NaN();
  bool mantissa_digits = false, exponent_digits = false;
  if (!take_digits(s, i, clean, mantissa_digits)) return bad();
  if (i < s.size() && s[i] == '.') {
    clean += s[i++];
    if (!take_digits(s, i, clean, mantissa_digits)) return bad();
  }
  if (!mantissa_digits) return bad();
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    clean += s[i++];
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) clean += s[i++];
    if (!take_digits(s, i, clean, exponent_digits) || !exponent_digits) return bad();
  }
  if (i != s.size()) return bad();
  // glibc strtod rounds correctly, like Python; overflow gives +-inf as Python does, underflow 0 or denormal.
  return std::strtod(clean.c_str(), nullptr);
}

int64_t parse_python_int(std::string_view text, std::string_view what, int64_t min, int64_t max) {
  const std::string_view s = strip(text);
  size_t i = 0;
  bool negative = false;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) negative = s[i++] == '-';
  std::string digits;
  bool any = false;
  if (!take_digits(s, i, digits, any) || !any || i != s.size())
    fail("{}: invalid literal for int() with base 10: '{}'", what, text);
  // Python ints are unbounded; strata needs them in range, so range errors are reported as such.
  const size_t first = digits.find_first_not_of('0');
  const std::string significant = first == std::string::npos ? "0" : digits.substr(first);
  if (significant.size() > 18) fail("{} must be between {} and {}, got {}", what, min, max, std::string(s));
  const int64_t magnitude = std::stoll(significant);
  const int64_t value = negative ? -magnitude : magnitude;
  if (value < min || value > max) fail("{} must be between {} and {}, got {}", what, min, max, value);
  return value;
}

}  // namespace strata::cli
