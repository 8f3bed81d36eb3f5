// GPT-2's byte-level alphabet: every byte gets a printable stand-in character so a BPE vocabulary of
// strings can cover arbitrary bytes. Bytes '!'..'~', 0xA1..0xAC and 0xAE..0xFF stand for themselves;
// the other 68 bytes map, in increasing order, to U+0100, U+0101, ... (so ' ' becomes 'Ġ' = U+0120).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace strata::tokenizer {

char32_t byte_to_char(uint8_t byte);

// The byte a stand-in character represents, or -1 when the character is not in the alphabet.
int char_to_byte(char32_t ch);

// Appends the stand-in characters (as UTF-8) of every byte of `bytes`.
void append_byte_level(std::string& out, std::string_view bytes);

// Hugging Face's ByteLevel decoder for one token: if every character of the token is a stand-in, the
// bytes they stand for; otherwise the token's own UTF-8 (added tokens such as "<|endoftext|>" that
// contain characters outside the alphabet come out verbatim).
void append_token_bytes(std::string& out, std::string_view token);

}  // namespace strata::tokenizer
