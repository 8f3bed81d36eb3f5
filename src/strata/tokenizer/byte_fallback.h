// Byte-fallback tokens ("<0x41>"): the 256 vocabulary entries a sentencepiece-converted BPE uses for
// characters it has no token for, one per UTF-8 byte. Parsing them and turning a run of them back into
// text, exactly as HF's ByteFallback decoder does (a run that is not valid UTF-8 gives one U+FFFD per byte).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace strata::tokenizer {

// The vocabulary spelling of one byte: "<0x0A>" (two upper-case hex digits).
std::string byte_fallback_token(uint8_t byte);

// The byte a token stands for, or nullopt. HF accepts any 6-byte "<0x??>" whose middle Rust's
// u8::from_str_radix(_, 16) parses: two hex digits of either case, or '+' and one digit.
std::optional<uint8_t> byte_fallback_value(std::string_view token);

// The tokens a finished run of byte tokens becomes: the bytes as one token when they are valid
// UTF-8, otherwise one U+FFFD token per byte.
void append_byte_run(const std::string& bytes, std::vector<std::string>& out);

}  // namespace strata::tokenizer
