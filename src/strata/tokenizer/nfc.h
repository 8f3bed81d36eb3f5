// Unicode Normalization Form C (canonical decomposition, canonical ordering, canonical composition),
// the "NFC" normalizer of tokenizer.json. Own tables (nfc_table.cpp) so the tokenizer needs no ICU;
// their Unicode version is nfc_unicode_version().
#pragma once

#include <string>
#include <string_view>

namespace strata::tokenizer {

// NFC of VALID UTF-8 text. Text already in NFC (all ASCII, most CJK, precomposed Latin) comes back
// after a quick scan without being rebuilt.
std::string nfc_normalize(std::string_view text);

const char* nfc_unicode_version();

}  // namespace strata::tokenizer
