// Unicode Normalization Form C, the "NFC" normalizer of tokenizer.json, through ICU (the well-kept
// implementation, current Unicode tables) rather than tables of our own.
#pragma once

#include <string>
#include <string_view>

namespace strata::tokenizer {

// NFC of VALID UTF-8 text (callers repair invalid UTF-8 first). Text already in NFC comes back after
// ICU's quick check without being rebuilt.
std::string nfc_normalize(std::string_view text);

// The Unicode version of ICU's tables, e.g. "15.0".
const char* nfc_unicode_version();

}  // namespace strata::tokenizer
