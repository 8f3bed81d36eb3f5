#include "strata/tokenizer/nfc.h"

#include <unicode/bytestream.h>
#include <unicode/normalizer2.h>
#include <unicode/stringpiece.h>
#include <unicode/uchar.h>

#include <cstdio>

#include "strata/core/error.h"

namespace strata::tokenizer {

namespace {
const icu::Normalizer2& nfc() {
  static const icu::Normalizer2* instance = [] {
    UErrorCode status = U_ZERO_ERROR;
    const icu::Normalizer2* n = icu::Normalizer2::getNFCInstance(status);
    if (U_FAILURE(status)) fail("ICU: cannot load the NFC normalizer ({})", u_errorName(status));
    return n;
  }();
  return *instance;
}
}  // namespace

std::string nfc_normalize(std::string_view text) {
  const icu::Normalizer2& n = nfc();
  UErrorCode status = U_ZERO_ERROR;
  const icu::StringPiece piece(text.data(), static_cast<int32_t>(text.size()));
  if (n.isNormalizedUTF8(piece, status) && U_SUCCESS(status)) return std::string(text);
  status = U_ZERO_ERROR;
  std::string out;
  out.reserve(text.size());
  icu::StringByteSink<std::string> sink(&out);
  n.normalizeUTF8(0, piece, sink, nullptr, status);
  if (U_FAILURE(status)) fail("ICU: NFC normalization failed ({})", u_errorName(status));
  return out;
}

const char* nfc_unicode_version() {
  static char version[U_MAX_VERSION_STRING_LENGTH] = {};
  if (!version[0]) {
    UVersionInfo info;
    u_getUnicodeVersion(info);
    std::snprintf(version, sizeof version, "%u.%u", info[0], info[1]);
  }
  return version;
}

}  // namespace strata::tokenizer
