// UTF-8 helpers for the tokenizer: validation, lossy repair (invalid bytes -> U+FFFD, one per maximal
// invalid subpart, exactly as Python's errors="replace" and Rust's from_utf8_lossy do), code point
// iteration over valid text, and the length of a valid prefix for streaming decode.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace strata::tokenizer {

// Length of the well-formed UTF-8 sequence starting at text[pos], or 0 if it is invalid or truncated.
size_t utf8_sequence_length(std::string_view text, size_t pos);

bool is_valid_utf8(std::string_view text);

// Replaces each maximal invalid subpart with U+FFFD; valid text comes back unchanged.
std::string utf8_lossy(std::string_view bytes);

// How many leading bytes of `bytes` can be emitted now: everything except a trailing, so far valid but
// unfinished character (which later bytes may complete). Invalid bytes count as emittable: once
// invalid, no later byte can make them valid.
size_t utf8_emittable_prefix(std::string_view bytes);

// Decodes the code point at text[pos] of VALID UTF-8 and advances pos.
char32_t next_code_point(std::string_view text, size_t& pos);

void append_utf8(std::string& out, char32_t code_point);

}  // namespace strata::tokenizer
