// Python's view of text for the template engine: strings are UTF-8 here but Python indexes, slices, strips
// and case-maps code points, so these helpers decode, classify and re-encode code points the way CPython's
// str methods do (whitespace, printability for repr(), case mapping from the C library's Unicode tables).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace strata::jinja {

bool is_valid_utf8(std::string_view text);
// Decodes valid UTF-8 (callers validate at the boundary: template source and context strings).
std::u32string decode_utf8(std::string_view text);
std::string encode_utf8(std::u32string_view text);
void append_utf8(std::string& out, char32_t c);
std::size_t code_point_count(std::string_view text);

// str.isspace(): the characters CPython strips and splits on by default (Unicode White_Space minus a few,
// plus the ASCII separators 0x1c-0x1f).
bool is_python_space(char32_t c);
// str.isprintable(): false for controls, format characters, separators other than ' ', private use and
// unassigned code points; repr() escapes exactly these.
bool is_python_printable(char32_t c);
// \w in Python's re (Unicode): letters, digits and underscore.
bool is_word_char(char32_t c);
bool is_alpha(char32_t c);
bool is_digit(char32_t c);
bool is_upper(char32_t c);
bool is_lower(char32_t c);
// Cased: has an upper- or lowercase form (what str.title() and str.islower() look at).
bool is_cased(char32_t c);

// Full-string case mapping: CPython uses the full Unicode mappings, so a few characters grow ('ß'.upper() is
// 'SS'); the rest come from the C library's simple mappings.
std::string to_upper(std::string_view text);
std::string to_lower(std::string_view text);
std::string capitalize(std::string_view text);  // str.capitalize(): first titlecased, rest lower
std::string title_case(std::string_view text);  // str.title(): titlecase after an uncased character
std::string swap_case(std::string_view text);

// Python's str.strip family: removes `chars` (any of them) or, when `chars` is null, Python whitespace.
std::string strip(std::string_view text, bool left, bool right, const std::u32string* chars);

}  // namespace strata::jinja
