// UTF-8 repair, the byte-level alphabet and NFC against hand-checked values (Python's
// bytes.decode("utf-8", "replace") and unicodedata.normalize("NFC", ...) give the same).
#include <gtest/gtest.h>

#include <set>

#include "strata/tokenizer/byte_level.h"
#include "strata/tokenizer/nfc.h"
#include "strata/tokenizer/utf8.h"

namespace strata::tokenizer {
namespace {

const std::string kReplacement = "\xEF\xBF\xBD";

TEST(Utf8, LossyRepairReplacesMaximalSubparts) {
  EXPECT_EQ(utf8_lossy("plain"), "plain");
  EXPECT_EQ(utf8_lossy("\xE4\xB8\xAD"), "中");
  EXPECT_EQ(utf8_lossy("a\xFF" "b"), "a" + kReplacement + "b");
  EXPECT_EQ(utf8_lossy("\xE4\xB8" "a"), kReplacement + "a");               // truncated: one U+FFFD
  EXPECT_EQ(utf8_lossy("\xED\xA0\x80"), kReplacement + kReplacement + kReplacement);  // surrogate
  EXPECT_EQ(utf8_lossy("\xC0\xAF"), kReplacement + kReplacement);           // overlong
  EXPECT_EQ(utf8_lossy("\xF4\x90\x80\x80"), kReplacement + kReplacement + kReplacement + kReplacement);  // > U+10FFFF
  EXPECT_EQ(utf8_lossy("\xF0\x9F\x98"), kReplacement);
  EXPECT_FALSE(is_valid_utf8("\x80"));
  EXPECT_TRUE(is_valid_utf8("\xF0\x9F\xA4\x97"));
}

TEST(Utf8, EmittablePrefixHoldsBackOnlyAnUnfinishedCharacter) {
  EXPECT_EQ(utf8_emittable_prefix("ab"), 2u);
  EXPECT_EQ(utf8_emittable_prefix("ab\xE4"), 2u);
  EXPECT_EQ(utf8_emittable_prefix("ab\xE4\xB8"), 2u);
  EXPECT_EQ(utf8_emittable_prefix("ab\xE4\xB8\xAD"), 5u);
  EXPECT_EQ(utf8_emittable_prefix("ab\xE4" "a"), 4u);   // already invalid: nothing to wait for
  EXPECT_EQ(utf8_emittable_prefix("\xE0\x80"), 2u);      // E0 80 can never become valid
  EXPECT_EQ(utf8_emittable_prefix("\xF0\x9F\x98"), 0u);
  EXPECT_EQ(utf8_emittable_prefix("\x80\x80\x80"), 3u);
}

TEST(ByteLevel, AlphabetIsGpt2Table) {
  std::set<char32_t> seen;
  for (int b = 0; b < 256; ++b) {
    const char32_t ch = byte_to_char(static_cast<uint8_t>(b));
    EXPECT_TRUE(seen.insert(ch).second) << b;
    EXPECT_EQ(char_to_byte(ch), b);
  }
  EXPECT_EQ(byte_to_char(' '), U'\u0120');  // 'Ġ'
  EXPECT_EQ(byte_to_char('\n'), U'\u010A');  // 'Ċ'
  EXPECT_EQ(byte_to_char(0), U'\u0100');
  EXPECT_EQ(byte_to_char('A'), U'A');
  EXPECT_EQ(byte_to_char(0xAD), U'\u0143');  // the one gap inside 0xA1..0xFF
  EXPECT_EQ(char_to_byte(U' '), -1);
  std::string mapped, back;
  append_byte_level(mapped, "a b\xFF");
  EXPECT_EQ(mapped, "a\xC4\xA0" "b\xC3\xBF");
  append_token_bytes(back, mapped);
  EXPECT_EQ(back, "a b\xFF");
  back.clear();
  append_token_bytes(back, "<|end of text|>");  // contains ' ', not a stand-in: verbatim
  EXPECT_EQ(back, "<|end of text|>");
}

TEST(Nfc, ComposesReordersAndKeepsExclusionsApart) {
  EXPECT_EQ(nfc_normalize("plain ASCII"), "plain ASCII");
  EXPECT_EQ(nfc_normalize("e\xCC\x81"), "\xC3\xA9");                         // e + U+0301 -> é
  EXPECT_EQ(nfc_normalize("\xE2\x84\xAB"), "\xC3\x85");                       // U+212B ANGSTROM -> Å
  EXPECT_EQ(nfc_normalize("\xCD\x84"), "\xCC\x88\xCC\x81");                   // U+0344 excluded: stays split
  EXPECT_EQ(nfc_normalize("\xE1\x84\x80\xE1\x85\xA1\xE1\x86\xA8"), "각");    // Hangul L V T
  EXPECT_EQ(nfc_normalize("\xEA\xB0\x80\xE1\x86\xA8"), "각");                // LV syllable + T
  // a + dot above (230) + dot below (220): reordered, then a + dot below composes to ạ.
  EXPECT_EQ(nfc_normalize("a\xCC\x87\xCC\xA3"), "\xE1\xBA\xA1\xCC\x87");
  EXPECT_EQ(nfc_normalize("a\xCC\xA3\xCC\x87"), "\xE1\xBA\xA1\xCC\x87");
  EXPECT_EQ(nfc_normalize("\xE4\xB8\xAD\xE6\x96\x87"), "中文");
  EXPECT_EQ(nfc_normalize("\xCC\x81" "e"), "\xCC\x81" "e");                  // leading mark: nothing to join
  EXPECT_STRNE(nfc_unicode_version(), "");
}

}  // namespace
}  // namespace strata::tokenizer
