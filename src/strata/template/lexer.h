// Splits a Jinja template into tokens the way Jinja2's lexer does with transformers' settings
// (trim_blocks, lstrip_blocks, keep_trailing_newline off): text between tags with the whitespace control
// of `{%-`, `-%}`, `{{-`, `+%}`... already applied, comments dropped, {% raw %} kept verbatim, and the
// expression tokens inside `{{ }}` and `{% %}` (names, numbers, decoded string literals, operators).
// Malformed input (an unterminated tag, string or comment, unbalanced brackets) throws strata::Error
// naming the template, line and column.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "strata/template/value.h"

namespace strata::jinja {

enum class TokenType : std::uint8_t {
  Data,
  VariableBegin,
  VariableEnd,
  BlockBegin,
  BlockEnd,
  Name,
  String,
  Integer,
  Float,
  Operator,
  Eof
};

struct Token {
  TokenType type = TokenType::Eof;
  std::string text;  // Data: the text; Name; Operator: its symbol; String: the decoded value
  std::int64_t int_value = 0;
  double float_value = 0.0;
  SourcePos pos;
};

std::vector<Token> tokenize(std::string_view source, const std::string& template_name);

// "template 'name' line L column C: message" as a strata::Error.
[[noreturn]] void syntax_error(const std::string& template_name, SourcePos pos, const std::string& message);

const char* describe(TokenType type);

}  // namespace strata::jinja
