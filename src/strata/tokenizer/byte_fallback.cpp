#include "strata/tokenizer/byte_fallback.h"

#include <fmt/format.h>

#include "strata/tokenizer/utf8.h"

namespace strata::tokenizer {
namespace {

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string byte_fallback_token(uint8_t byte) { return fmt::format("<0x{:02X}>", byte); }

std::optional<uint8_t> byte_fallback_value(std::string_view token) {
  if (token.size() != 6 || token.substr(0, 3) != "<0x" || token.back() != '>') return std::nullopt;
  const int high = hex_digit(token[3]), low = hex_digit(token[4]);
  if (low < 0) return std::nullopt;
  if (high >= 0) return static_cast<uint8_t>(high * 16 + low);
  if (token[3] == '+') return static_cast<uint8_t>(low);  // Rust's from_str_radix takes a leading '+'
  return std::nullopt;
}

void append_byte_run(const std::string& bytes, std::vector<std::string>& out) {
  if (bytes.empty()) return;
  if (is_valid_utf8(bytes)) {
    out.push_back(bytes);
    return;
  }
  for (size_t i = 0; i < bytes.size(); ++i) out.emplace_back("\xEF\xBF\xBD");
}

}  // namespace strata::tokenizer
