#include "strata/template/lexer.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <limits>

#include "strata/core/error.h"
#include "strata/template/unicode.h"

namespace strata::jinja {

void syntax_error(const std::string& template_name, SourcePos pos, const std::string& message) {
  throw Error(
      fmt::format("template '{}' line {} column {}: {}", template_name, pos.line, pos.column, message));
}

const char* describe(TokenType type) {
  switch (type) {
    case TokenType::Data:
      return "template data";
    case TokenType::VariableBegin:
      return "'{{'";
    case TokenType::VariableEnd:
      return "'}}'";
    case TokenType::BlockBegin:
      return "'{%'";
    case TokenType::BlockEnd:
      return "'%}'";
    case TokenType::Name:
      return "name";
    case TokenType::String:
      return "string";
    case TokenType::Integer:
      return "integer";
    case TokenType::Float:
      return "float";
    case TokenType::Operator:
      return "operator";
    case TokenType::Eof:
      return "end of template";
  }
  return "token";
}

namespace {

bool is_digit_ascii(char c) { return c >= '0' && c <= '9'; }
bool is_name_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_name_char(char c) { return is_name_start(c) || is_digit_ascii(c); }
int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Jinja2's operators, longest first so "//" wins over "/" and "**" over "*".
constexpr std::string_view kOperators[] = {"//", "**", "==", "!=", ">=", "<=", "+", "-", "/",
                                           "*",  "%",  "~",  "[",  "]",  "(",  ")", "{", "}",
                                           ">",  "<",  "=",  ".",  ":",  "|",  ",", ";"};

// Jinja2 reads templates with every \r\n and \r turned into \n and, without keep_trailing_newline, one
// trailing newline dropped.
std::string normalize_newlines(std::string_view source) {
  std::string out;
  out.reserve(source.size());
  for (std::size_t i = 0; i < source.size(); ++i) {
    if (source[i] == '\r') {
      out.push_back('\n');
      if (i + 1 < source.size() && source[i + 1] == '\n') ++i;
    } else {
      out.push_back(source[i]);
    }
  }
  if (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

class Lexer {
 public:
  Lexer(std::string source, const std::string& name) : src_(std::move(source)), name_(name) {
    line_starts_.push_back(0);
    for (std::size_t i = 0; i < src_.size(); ++i) {
      if (src_[i] == '\n') line_starts_.push_back(i + 1);
    }
  }

  std::vector<Token> run() {
    std::size_t pos = 0;
    while (pos < src_.size()) pos = lex_text(pos);
    Token eof;
    eof.type = TokenType::Eof;
    eof.pos = pos_at(src_.size());
    tokens_.push_back(std::move(eof));
    return std::move(tokens_);
  }

 private:
  SourcePos pos_at(std::size_t offset) const {
    auto it = std::upper_bound(line_starts_.begin(), line_starts_.end(), offset);
    const std::size_t line_start = *(it - 1);
    SourcePos p;
    p.line = static_cast<int>(it - line_starts_.begin());
    p.column =
        static_cast<int>(code_point_count(std::string_view(src_).substr(line_start, offset - line_start))) +
        1;
    return p;
  }

  [[noreturn]] void fail_at(std::size_t offset, const std::string& message) const {
    syntax_error(name_, pos_at(offset), message);
  }

  // The code point at `i` and its byte length (the source is valid UTF-8).
  char32_t code_point_at(std::size_t i, std::size_t* length) const {
    const auto b = static_cast<unsigned char>(src_[i]);
    const std::size_t n = b < 0x80 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4;
    *length = n;
    return decode_utf8(std::string_view(src_).substr(i, n))[0];
  }

  // Python's \s* at `i`: how far whitespace (Unicode's too) runs.
  std::size_t skip_space(std::size_t i) const {
    while (i < src_.size()) {
      std::size_t len = 0;
      if (!is_python_space(code_point_at(i, &len))) break;
      i += len;
    }
    return i;
  }

  bool starts_with(std::size_t i, std::string_view s) const { return src_.compare(i, s.size(), s) == 0; }

  void emit(TokenType type, std::string text, std::size_t offset) {
    Token t;
    t.type = type;
    t.text = std::move(text);
    t.pos = pos_at(offset);
    tokens_.push_back(std::move(t));
  }

  // Whitespace control for the text before a tag: `-` strips all whitespace; otherwise lstrip_blocks
  // removes the spaces and tabs that start the tag's line, if nothing else is there (blocks and comments
  // only, never `{{`).
  void emit_text_before_tag(std::string_view text, std::size_t offset, char sign, bool is_variable) {
    std::string data(text);
    if (sign == '-') {
      data = strip(data, false, true, nullptr);
    } else if (sign != '+' && !is_variable) {
      const std::size_t newline = data.rfind('\n');
      const std::size_t line_begin = newline == std::string::npos ? 0 : newline + 1;
      if (line_begin > 0 || line_starting_) {
        const std::u32string rest = decode_utf8(std::string_view(data).substr(line_begin));
        if (!rest.empty() && std::all_of(rest.begin(), rest.end(), is_python_space)) data.resize(line_begin);
      }
    }
    if (!data.empty()) emit(TokenType::Data, std::move(data), offset);
  }

  // Finds the next tag start; returns the position after the tag (or the end of the source).
  std::size_t lex_text(std::size_t pos) {
    std::size_t tag = src_.find('{', pos);
    while (
        tag != std::string::npos &&
        (tag + 1 >= src_.size() || (src_[tag + 1] != '{' && src_[tag + 1] != '%' && src_[tag + 1] != '#'))) {
      tag = src_.find('{', tag + 1);
    }
    if (tag == std::string::npos) {
      emit(TokenType::Data, src_.substr(pos), pos);
      return src_.size();
    }
    const char kind = src_[tag + 1];
    const char sign =
        tag + 2 < src_.size() && (src_[tag + 2] == '-' || src_[tag + 2] == '+') ? src_[tag + 2] : 0;
    const std::size_t inner = tag + 2 + (sign ? 1 : 0);
    const std::string_view text = std::string_view(src_).substr(pos, tag - pos);

    if (kind == '%') {
      if (std::size_t raw_end = match_raw_begin(inner); raw_end != 0) {
        emit_text_before_tag(text, pos, sign, false);
        line_starting_ = src_[raw_end - 1] == '\n';
        return lex_raw(tag, raw_end);
      }
    }
    emit_text_before_tag(text, pos, sign, kind == '{');
    line_starting_ = false;
    if (kind == '#') return lex_comment(tag, inner);
    emit(kind == '{' ? TokenType::VariableBegin : TokenType::BlockBegin, kind == '{' ? "{{" : "{%", tag);
    return lex_tag(tag, inner, kind == '{');
  }

  // `{% raw %}` (Jinja2's regex: optional sign, \s*, raw, \s*, then -%} with trailing space or %}).
  // Returns the offset after the tag, or 0 if this is not a raw tag.
  std::size_t match_raw_begin(std::size_t i) const {
    i = skip_space(i);
    if (!starts_with(i, "raw")) return 0;
    i = skip_space(i + 3);
    if (starts_with(i, "-%}")) return skip_space(i + 3);
    if (starts_with(i, "%}")) return i + 2;
    return 0;
  }

  std::size_t lex_raw(std::size_t tag, std::size_t body) {
    for (std::size_t at = src_.find("{%", body); at != std::string::npos; at = src_.find("{%", at + 1)) {
      const char sign =
          at + 2 < src_.size() && (src_[at + 2] == '-' || src_[at + 2] == '+') ? src_[at + 2] : 0;
      std::size_t i = skip_space(at + 2 + (sign ? 1 : 0));
      if (!starts_with(i, "endraw")) continue;
      i = skip_space(i + 6);
      std::size_t end = 0;
      if (starts_with(i, "+%}")) {
        end = i + 3;
      } else if (starts_with(i, "-%}")) {
        end = skip_space(i + 3);
      } else if (starts_with(i, "%}")) {
        end = i + 2 + (i + 2 < src_.size() && src_[i + 2] == '\n' ? 1 : 0);
      } else {
        continue;
      }
      emit_text_before_tag(std::string_view(src_).substr(body, at - body), body, sign, false);
      line_starting_ = src_[end - 1] == '\n';
      return end;
    }
    fail_at(tag, "unterminated '{% raw %}': no '{% endraw %}' follows");
  }

  std::size_t lex_comment(std::size_t tag, std::size_t inner) {
    const std::size_t close = src_.find("#}", inner);
    if (close == std::string::npos) fail_at(tag, "unterminated comment: '{#' has no matching '#}'");
    const char sign =
        close > inner && (src_[close - 1] == '-' || src_[close - 1] == '+') ? src_[close - 1] : 0;
    std::size_t end = close + 2;
    if (sign == '-') {
      end = skip_space(end);
    } else if (sign == 0 && end < src_.size() && src_[end] == '\n') {
      ++end;  // trim_blocks
    }
    line_starting_ = src_[end - 1] == '\n';
    return end;
  }

  std::size_t lex_tag(std::size_t tag, std::size_t i, bool is_variable) {
    std::vector<std::pair<char, std::size_t>> brackets;  // expected closer, where the opener was
    while (true) {
      if (i >= src_.size()) {
        fail_at(tag, is_variable ? "unterminated '{{': no matching '}}' before the end of the template"
                                 : "unterminated '{%': no matching '%}' before the end of the template");
      }
      if (brackets.empty()) {
        if (std::size_t end = match_tag_end(i, is_variable); end != 0) {
          emit(is_variable ? TokenType::VariableEnd : TokenType::BlockEnd, is_variable ? "}}" : "%}", i);
          line_starting_ = src_[end - 1] == '\n';
          return end;
        }
      }
      const char c = src_[i];
      std::size_t len = 0;
      if (is_python_space(code_point_at(i, &len))) {
        i += len;
      } else if (is_digit_ascii(c)) {
        i = lex_number(i);
      } else if (is_name_start(c)) {
        std::size_t j = i;
        while (j < src_.size() && is_name_char(src_[j])) ++j;
        emit(TokenType::Name, src_.substr(i, j - i), i);
        i = j;
      } else if (c == '\'' || c == '"') {
        i = lex_string(i);
      } else {
        i = lex_operator(i, brackets);
      }
    }
  }

  // The end of a tag at `i` (Jinja2: `-%}` eats the whitespace after it, `%}` one newline under
  // trim_blocks, `+%}` nothing; `-}}` and `}}` for variables). Returns the offset after it, or 0.
  std::size_t match_tag_end(std::size_t i, bool is_variable) const {
    if (is_variable) {
      if (starts_with(i, "-}}")) return skip_space(i + 3);
      if (starts_with(i, "}}")) return i + 2;
      return 0;
    }
    if (starts_with(i, "-%}")) return skip_space(i + 3);
    if (starts_with(i, "+%}")) return i + 3;
    if (starts_with(i, "%}")) return i + 2 + (i + 2 < src_.size() && src_[i + 2] == '\n' ? 1 : 0);
    return 0;
  }

  // Digits with optional single underscores between them ((\d+_)*\d+); returns the end, or `i` if none.
  std::size_t scan_digits(std::size_t i) const {
    std::size_t j = i;
    while (j < src_.size() && is_digit_ascii(src_[j])) {
      ++j;
      if (j + 1 < src_.size() && src_[j] == '_' && is_digit_ascii(src_[j + 1])) ++j;
    }
    return j;
  }

  std::size_t lex_number(std::size_t i) {
    // Jinja2 tries its float rule first: digits then a fraction and/or an exponent; not after a '.'
    // (so `x.0.1` indexes twice).
    const bool after_dot = i > 0 && src_[i - 1] == '.';
    const std::size_t int_end = scan_digits(i);
    if (!after_dot) {
      std::size_t j = int_end;
      bool has_fraction = false;
      if (j + 1 < src_.size() && src_[j] == '.' && is_digit_ascii(src_[j + 1])) {
        j = scan_digits(j + 1);
        has_fraction = true;
      }
      std::size_t k = j;
      bool has_exponent = false;
      if (k < src_.size() && (src_[k] == 'e' || src_[k] == 'E')) {
        std::size_t m = k + 1;
        if (m < src_.size() && (src_[m] == '+' || src_[m] == '-')) ++m;
        if (m < src_.size() && is_digit_ascii(src_[m])) {
          k = scan_digits(m);
          has_exponent = true;
        }
      }
      if (has_fraction || has_exponent) {
        const std::size_t end = has_exponent ? k : j;
        std::string text;
        for (std::size_t p = i; p < end; ++p) {
          if (src_[p] != '_') text.push_back(src_[p]);
        }
        emit(TokenType::Float, text, i);
        tokens_.back().float_value = std::strtod(text.c_str(), nullptr);
        return end;
      }
    }
    return lex_integer(i);
  }

  std::size_t lex_integer(std::size_t i) {
    int base = 10;
    std::size_t j = i;
    std::string digits;
    auto take = [&](auto accepts) {
      while (j < src_.size()) {
        if (src_[j] == '_' && j + 1 < src_.size() && accepts(src_[j + 1])) {
          ++j;
        } else if (!accepts(src_[j])) {
          break;
        }
        digits.push_back(src_[j]);
        ++j;
      }
    };
    const char prefix = i + 1 < src_.size() ? static_cast<char>(src_[i + 1] | 0x20) : 0;
    if (src_[i] == '0' && (prefix == 'b' || prefix == 'o' || prefix == 'x')) {
      base = prefix == 'b' ? 2 : prefix == 'o' ? 8 : 16;
      j = i + 2;
      take([base](char c) {
        int v = hex_value(c);
        return v >= 0 && v < base;
      });
      if (digits.empty()) {  // just "0", then a name
        j = i + 1;
        digits.push_back('0');
        base = 10;
      }
    } else if (src_[i] == '0') {
      take([](char c) { return c == '0'; });  // Jinja2 reads "0", "00", "0_0" but not "07"
    } else {
      take([](char c) { return is_digit_ascii(c); });
    }
    errno = 0;
    const unsigned long long value = std::strtoull(digits.c_str(), nullptr, base);
    if (errno == ERANGE ||
        value > static_cast<unsigned long long>(std::numeric_limits<std::int64_t>::max())) {
      fail_at(i, "integer literal is too large (strata's template integers are 64-bit)");
    }
    emit(TokenType::Integer, src_.substr(i, j - i), i);
    tokens_.back().int_value = static_cast<std::int64_t>(value);
    return j;
  }

  std::size_t lex_string(std::size_t i) {
    const char quote = src_[i];
    std::size_t j = i + 1;
    while (j < src_.size() && src_[j] != quote) {
      j += src_[j] == '\\' ? 2 : 1;
    }
    if (j >= src_.size()) fail_at(i, "unterminated string literal");
    emit(TokenType::String, decode_escapes(i + 1, j), i);
    return j + 1;
  }

  // Jinja2 decodes string literals with Python's "unicode-escape" codec (after backslash-escaping
  // non-ASCII text, which therefore survives as is): \n \t \\ \' \xhh \uhhhh \Uhhhhhhhh \ooo...,
  // and an unknown escape keeps its backslash.
  std::string decode_escapes(std::size_t begin, std::size_t end) const {
    std::string out;
    for (std::size_t i = begin; i < end; ++i) {
      if (src_[i] != '\\') {
        out.push_back(src_[i]);
        continue;
      }
      const char c = src_[++i];
      switch (c) {
        case '\n':
          break;  // line continuation
        case '\\':
          out.push_back('\\');
          break;
        case '\'':
          out.push_back('\'');
          break;
        case '"':
          out.push_back('"');
          break;
        case 'a':
          out.push_back('\a');
          break;
        case 'b':
          out.push_back('\b');
          break;
        case 'f':
          out.push_back('\f');
          break;
        case 'n':
          out.push_back('\n');
          break;
        case 'r':
          out.push_back('\r');
          break;
        case 't':
          out.push_back('\t');
          break;
        case 'v':
          out.push_back('\v');
          break;
        case 'x':
        case 'u':
        case 'U': {
          const std::size_t width = c == 'x' ? 2 : c == 'u' ? 4 : 8;
          char32_t value = 0;
          for (std::size_t k = 1; k <= width; ++k) {
            const int h = i + k < end ? hex_value(src_[i + k]) : -1;
            if (h < 0) fail_at(i - 1, fmt::format("truncated \\{} escape in a string literal", c));
            value = value * 16 + static_cast<char32_t>(h);
          }
          if (value > 0x10FFFF) fail_at(i - 1, "\\U escape past U+10FFFF in a string literal");
          if (value >= 0xD800 && value <= 0xDFFF) {
            fail_at(i - 1, "surrogate escape in a string literal (a Python str would hold a lone surrogate)");
          }
          append_utf8(out, value);
          i += width;
          break;
        }
        case 'N':
          fail_at(i - 1, "\\N{...} named escapes are not supported in string literals");
        default:
          if (c >= '0' && c <= '7') {
            char32_t value = 0;
            std::size_t k = 0;
            while (k < 3 && i + k < end && src_[i + k] >= '0' && src_[i + k] <= '7') {
              value = value * 8 + static_cast<char32_t>(src_[i + k] - '0');
              ++k;
            }
            append_utf8(out, value);
            i += k - 1;
          } else if (static_cast<unsigned char>(c) >= 0x80) {
            // A backslash before non-ASCII text: Python first wrote the character as \xhh / \uhhhh, so
            // the pair "\\" decodes to one backslash and the escape's letters stay literal.
            std::size_t len = 0;
            const char32_t cp = code_point_at(i, &len);
            out += cp < 0x100     ? fmt::format("\\x{:02x}", static_cast<unsigned>(cp))
                   : cp < 0x10000 ? fmt::format("\\u{:04x}", static_cast<unsigned>(cp))
                                  : fmt::format("\\U{:08x}", static_cast<unsigned>(cp));
            i += len - 1;
          } else {
            out.push_back('\\');
            out.push_back(c);
          }
      }
    }
    return out;
  }

  std::size_t lex_operator(std::size_t i, std::vector<std::pair<char, std::size_t>>& brackets) {
    for (std::string_view op : kOperators) {
      if (!starts_with(i, op)) continue;
      const char c = op[0];
      if (op.size() == 1 && (c == '(' || c == '[' || c == '{')) {
        brackets.emplace_back(c == '(' ? ')' : c == '[' ? ']' : '}', i);
      } else if (op.size() == 1 && (c == ')' || c == ']' || c == '}')) {
        if (brackets.empty()) fail_at(i, fmt::format("unexpected '{}'", c));
        if (brackets.back().first != c) {
          fail_at(i, fmt::format("unexpected '{}', expected '{}' (to close the bracket at line {} column {})",
                                 c, brackets.back().first, pos_at(brackets.back().second).line,
                                 pos_at(brackets.back().second).column));
        }
        brackets.pop_back();
      }
      emit(TokenType::Operator, std::string(op), i);
      return i + op.size();
    }
    std::size_t len = 0;
    code_point_at(i, &len);
    fail_at(i, fmt::format("unexpected character '{}' inside a tag", src_.substr(i, len)));
  }

  std::string src_;
  const std::string& name_;
  std::vector<std::size_t> line_starts_;
  std::vector<Token> tokens_;
  bool line_starting_ = true;  // the previous match ended with a newline (or this is the start)
};

}  // namespace

std::vector<Token> tokenize(std::string_view source, const std::string& template_name) {
  if (!is_valid_utf8(source))
    throw Error(fmt::format("template '{}': the source is not valid UTF-8", template_name));
  return Lexer(normalize_newlines(source), template_name).run();
}

}  // namespace strata::jinja
