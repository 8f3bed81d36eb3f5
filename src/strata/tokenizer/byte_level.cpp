#include "strata/tokenizer/byte_level.h"

#include <array>

#include "strata/tokenizer/utf8.h"

namespace strata::tokenizer {
namespace {

bool stands_for_itself(int byte) {
  return (byte >= '!' && byte <= '~') || (byte >= 0xA1 && byte <= 0xAC) || (byte >= 0xAE && byte <= 0xFF);
}

struct Alphabet {
  std::array<char32_t, 256> char_of_byte{};
  std::array<std::string, 256> utf8_of_byte;
  std::array<int16_t, 512> byte_of_char{};  // every stand-in is below U+0200

  Alphabet() {
    byte_of_char.fill(-1);
    char32_t next_extra = 0x100;
    for (int byte = 0; byte < 256; ++byte) {
      const char32_t ch = stands_for_itself(byte) ? static_cast<char32_t>(byte) : next_extra++;
      char_of_byte[byte] = ch;
      byte_of_char[ch] = static_cast<int16_t>(byte);
      append_utf8(utf8_of_byte[byte], ch);
    }
  }
};

const Alphabet& alphabet() {
  static const Alphabet table;
  return table;
}

}  // namespace

char32_t byte_to_char(uint8_t byte) { return alphabet().char_of_byte[byte]; }

int char_to_byte(char32_t ch) { return ch < 512 ? alphabet().byte_of_char[ch] : -1; }

void append_byte_level(std::string& out, std::string_view bytes) {
  const Alphabet& table = alphabet();
  for (char c : bytes) out += table.utf8_of_byte[static_cast<uint8_t>(c)];
}

void append_token_bytes(std::string& out, std::string_view token) {
  const size_t start = out.size();
  size_t pos = 0;
  while (pos < token.size()) {
    const size_t length = utf8_sequence_length(token, pos);
    if (length == 0) break;
    const char32_t ch = next_code_point(token, pos);
    const int byte = char_to_byte(ch);
    if (byte < 0) {
      out.resize(start);
      out.append(token);
      return;
    }
    out.push_back(static_cast<char>(byte));
  }
  if (pos < token.size()) {  // not valid UTF-8 (cannot come from tokenizer.json): pass through
    out.resize(start);
    out.append(token);
  }
}

}  // namespace strata::tokenizer
