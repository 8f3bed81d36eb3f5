#include "strata/template/unicode.h"

#include <algorithm>
#include <locale.h>
#include <wctype.h>

namespace strata::jinja {
namespace {

// The C library's Unicode character tables, without touching the process-wide locale: glibc ships a
// built-in C.UTF-8 whose LC_CTYPE covers all of Unicode. Without it we fall back to ASCII-only rules.
locale_t unicode_ctype() {
  static const locale_t locale = newlocale(LC_CTYPE_MASK, "C.UTF-8", static_cast<locale_t>(nullptr));
  return locale;
}

bool ascii_alpha(char32_t c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

struct Range {
  char32_t first, last;
};

bool in_ranges(char32_t c, const Range* ranges, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    if (c >= ranges[i].first && c <= ranges[i].last) return true;
  }
  return false;
}

// Code points CPython's repr() escapes although the C library may call them printable: separators
// (Zs other than ' ', Zl, Zp), format characters (Cf), private use (Co) and noncharacters.
constexpr Range kNotPrintable[] = {
    {0x00A0, 0x00A0},   {0x00AD, 0x00AD},    {0x0600, 0x0605},   {0x061C, 0x061C},   {0x06DD, 0x06DD},
    {0x070F, 0x070F},   {0x0890, 0x0891},    {0x08E2, 0x08E2},   {0x1680, 0x1680},   {0x180E, 0x180E},
    {0x2000, 0x200F},   {0x2028, 0x202F},    {0x205F, 0x2064},   {0x2066, 0x206F},   {0x3000, 0x3000},
    {0xD800, 0xF8FF},   {0xFDD0, 0xFDEF},    {0xFEFF, 0xFEFF},   {0xFFF9, 0xFFFB},   {0x110BD, 0x110BD},
    {0x110CD, 0x110CD}, {0x13430, 0x1343F},  {0x1BCA0, 0x1BCA3}, {0x1D173, 0x1D17A}, {0xE0001, 0xE0001},
    {0xE0020, 0xE007F}, {0xF0000, 0x10FFFF},
};

}  // namespace

bool is_valid_utf8(std::string_view text) {
  std::size_t i = 0;
  const std::size_t n = text.size();
  while (i < n) {
    const auto b = static_cast<unsigned char>(text[i]);
    if (b < 0x80) {
      ++i;
      continue;
    }
    int extra = 0;
    char32_t c = 0;
    if (b >= 0xC2 && b <= 0xDF) {
      extra = 1, c = b & 0x1F;
    } else if (b >= 0xE0 && b <= 0xEF) {
      extra = 2, c = b & 0x0F;
    } else if (b >= 0xF0 && b <= 0xF4) {
      extra = 3, c = b & 0x07;
    } else {
      return false;
    }
    if (i + static_cast<std::size_t>(extra) >= n) return false;
    for (int k = 1; k <= extra; ++k) {
      const auto cb = static_cast<unsigned char>(text[i + k]);
      if ((cb & 0xC0) != 0x80) return false;
      c = (c << 6) | (cb & 0x3F);
    }
    // Overlong forms, surrogates and values past U+10FFFF are not UTF-8.
    if ((extra == 2 && c < 0x800) || (extra == 3 && (c < 0x10000 || c > 0x10FFFF))) return false;
    if (c >= 0xD800 && c <= 0xDFFF) return false;
    i += static_cast<std::size_t>(extra) + 1;
  }
  return true;
}

std::u32string decode_utf8(std::string_view text) {
  std::u32string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    const auto b = static_cast<unsigned char>(text[i]);
    int extra = b < 0x80 ? 0 : b < 0xE0 ? 1 : b < 0xF0 ? 2 : 3;
    char32_t c = extra == 0 ? b : extra == 1 ? (b & 0x1F) : extra == 2 ? (b & 0x0F) : (b & 0x07);
    for (int k = 1; k <= extra && i + k < text.size(); ++k) {
      c = (c << 6) | (static_cast<unsigned char>(text[i + k]) & 0x3F);
    }
    out.push_back(c);
    i += static_cast<std::size_t>(extra) + 1;
  }
  return out;
}

void append_utf8(std::string& out, char32_t c) {
  if (c < 0x80) {
    out.push_back(static_cast<char>(c));
  } else if (c < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (c >> 6)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else if (c < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (c >> 12)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (c >> 18)));
    out.push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  }
}

std::string encode_utf8(std::u32string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char32_t c : text) append_utf8(out, c);
  return out;
}

std::size_t code_point_count(std::string_view text) {
  return static_cast<std::size_t>(std::count_if(
      text.begin(), text.end(), [](char ch) { return (static_cast<unsigned char>(ch) & 0xC0) != 0x80; }));
}

bool is_python_space(char32_t c) {
  if (c <= 0x20) return c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1C && c <= 0x1F);
  return c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 ||
         c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

bool is_python_printable(char32_t c) {
  if (c < 0x20 || c == 0x7F) return false;
  if (c < 0x7F) return true;
  if (c < 0xA0) return false;
  if (in_ranges(c, kNotPrintable, std::size(kNotPrintable))) return false;
  if ((c & 0xFFFE) == 0xFFFE) return false;  // U+xxFFFE and U+xxFFFF are noncharacters in every plane
  // Unassigned code points are not printable either; the C library's tables know which are assigned.
  const locale_t locale = unicode_ctype();
  return locale == nullptr || iswprint_l(static_cast<wint_t>(c), locale) != 0;
}

bool is_alpha(char32_t c) {
  if (c < 0x80) return ascii_alpha(c);
  const locale_t locale = unicode_ctype();
  if (locale == nullptr || iswalpha_l(static_cast<wint_t>(c), locale) == 0) return false;
  // glibc counts combining marks (Mn, Mc, Me) as alphabetic; Python's isalpha and \w do not.
  static const wctype_t combining = wctype_l("combining", locale);
  return combining == wctype_t{} || iswctype_l(static_cast<wint_t>(c), combining, locale) == 0;
}

bool is_digit(char32_t c) {
  if (c < 0x80) return c >= '0' && c <= '9';
  const locale_t locale = unicode_ctype();
  return locale != nullptr && iswdigit_l(static_cast<wint_t>(c), locale) != 0;
}

bool is_word_char(char32_t c) { return c == '_' || is_alpha(c) || is_digit(c); }

bool is_upper(char32_t c) {
  if (c < 0x80) return c >= 'A' && c <= 'Z';
  const locale_t locale = unicode_ctype();
  return locale != nullptr && iswupper_l(static_cast<wint_t>(c), locale) != 0;
}

bool is_lower(char32_t c) {
  if (c < 0x80) return c >= 'a' && c <= 'z';
  if (c == 0xDF) return true;  // ß has no single-character uppercase, but it is lowercase
  const locale_t locale = unicode_ctype();
  return locale != nullptr && iswlower_l(static_cast<wint_t>(c), locale) != 0;
}

bool is_cased(char32_t c) { return is_upper(c) || is_lower(c); }

namespace {

void append_upper(std::string& out, char32_t c) {
  if (c < 0x80) {
    out.push_back(static_cast<char>(c >= 'a' && c <= 'z' ? c - 32 : c));
    return;
  }
  if (c == 0xDF) {  // ß -> SS (SpecialCasing.txt)
    out += "SS";
    return;
  }
  const locale_t locale = unicode_ctype();
  append_utf8(out, locale ? static_cast<char32_t>(towupper_l(static_cast<wint_t>(c), locale)) : c);
}

void append_lower(std::string& out, char32_t c) {
  if (c < 0x80) {
    out.push_back(static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c));
    return;
  }
  if (c == 0x130) {  // İ -> i + combining dot above (SpecialCasing.txt)
    out += "i\xCC\x87";
    return;
  }
  const locale_t locale = unicode_ctype();
  append_utf8(out, locale ? static_cast<char32_t>(towlower_l(static_cast<wint_t>(c), locale)) : c);
}

// Titlecase, which str.title() and str.capitalize() use for a word's first letter: it differs from
// uppercase for digraphs (ǆ -> ǅ, not Ǆ) and ß (-> Ss).
void append_title(std::string& out, char32_t c) {
  if (c < 0x80) {
    append_upper(out, c);
    return;
  }
  if (c == 0xDF) {
    out += "Ss";
    return;
  }
  const locale_t locale = unicode_ctype();
  static const wctrans_t to_title = locale ? wctrans_l("totitle", locale) : wctrans_t{};
  if (locale == nullptr || to_title == wctrans_t{}) {
    append_upper(out, c);
    return;
  }
  append_utf8(out, static_cast<char32_t>(towctrans_l(static_cast<wint_t>(c), to_title, locale)));
}

}  // namespace

std::string to_upper(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char32_t c : decode_utf8(text)) append_upper(out, c);
  return out;
}

std::string to_lower(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char32_t c : decode_utf8(text)) append_lower(out, c);
  return out;
}

std::string capitalize(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  bool first = true;
  for (char32_t c : decode_utf8(text)) {
    if (first) {
      append_title(out, c);
      first = false;
    } else {
      append_lower(out, c);
    }
  }
  return out;
}

std::string title_case(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  bool previous_cased = false;
  for (char32_t c : decode_utf8(text)) {
    if (previous_cased) {
      append_lower(out, c);
    } else {
      append_title(out, c);
    }
    previous_cased = is_cased(c);
  }
  return out;
}

std::string swap_case(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char32_t c : decode_utf8(text)) {
    if (is_upper(c)) {
      append_lower(out, c);
    } else if (is_lower(c)) {
      append_upper(out, c);
    } else {
      append_utf8(out, c);
    }
  }
  return out;
}

std::string strip(std::string_view text, bool left, bool right, const std::u32string* chars) {
  const std::u32string cps = decode_utf8(text);
  auto strippable = [&](char32_t c) {
    return chars ? chars->find(c) != std::u32string::npos : is_python_space(c);
  };
  std::size_t begin = 0, end = cps.size();
  if (left) {
    while (begin < end && strippable(cps[begin])) ++begin;
  }
  if (right) {
    while (end > begin && strippable(cps[end - 1])) --end;
  }
  return encode_utf8(std::u32string_view(cps).substr(begin, end - begin));
}

}  // namespace strata::jinja
