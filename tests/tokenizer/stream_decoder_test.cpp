// StreamDecoder against Tokenizer::decode: for every prefix of every reference id sequence, what the
// stream has returned plus flush() equals the full decode of that prefix, and nothing returned early
// is ever taken back (it is a prefix of the final text).
#include <gtest/gtest.h>

#include "fixture_cases.h"
#include "strata/tokenizer/byte_fallback.h"
#include "strata/tokenizer/byte_level.h"
#include "strata/tokenizer/stream_decoder.h"
#include "strata/tokenizer/utf8.h"

namespace strata::tokenizer {
namespace {

using testing::fixture_dir;
using testing::ids_of;
using testing::read_json_file;

void expect_stream_equals_decode(const Tokenizer& tokenizer, const std::vector<int32_t>& ids, bool skip_special,
                                 const std::string& name) {
  const std::string full = tokenizer.decode(ids, skip_special);
  StreamDecoder stream(tokenizer, skip_special);
  std::string streamed;
  for (size_t k = 0; k < ids.size(); ++k) {
    streamed += stream.push(ids[k]);
    ASSERT_EQ(full.compare(0, streamed.size(), streamed), 0) << name << ": streamed text taken back at id " << k;
    // The prefix decoded on its own: what streamed so far is its held-back-free part.
    const std::vector<int32_t> prefix(ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(k) + 1);
    const std::string prefix_text = tokenizer.decode(prefix, skip_special);
    ASSERT_EQ(prefix_text.compare(0, streamed.size(), streamed), 0) << name << " at " << k;
  }
  streamed += stream.flush();
  EXPECT_EQ(streamed, full) << name;
}

class Stream : public ::testing::TestWithParam<std::string> {};

TEST_P(Stream, EveryPrefixMatchesFullDecode) {
  const auto tokenizer = Tokenizer::load(fixture_dir(GetParam()) + "/tokenizer.json");
  const auto fixture = read_json_file(fixture_dir(GetParam()) + "/cases.json");
  for (const auto& c : fixture["cases"]) {
    if (c["name"] == "all_concatenated") continue;  // quadratic check; the parts are covered
    for (bool skip : {false, true}) expect_stream_equals_decode(tokenizer, ids_of(c["ids_special"]), skip, c["name"]);
  }
  for (const auto& c : fixture["decode_cases"]) {
    if (!c.contains("ids")) continue;
    const auto ids = ids_of(c["ids"]);
    for (bool skip : {false, true}) expect_stream_equals_decode(tokenizer, ids, skip, c["name"]);
    // And against the reference directly.
    StreamDecoder stream(tokenizer, false);
    std::string text;
    for (int32_t id : ids) text += stream.push(id);
    text += stream.flush();
    EXPECT_EQ(text, c["decode"].get<std::string>()) << c["name"];
  }
}

// The token of one raw byte: the byte-fallback token ("<0xE4>") where the vocabulary has them, else
// the byte-level stand-in character.
int32_t byte_token(const Tokenizer& tokenizer, uint8_t byte) {
  if (auto id = tokenizer.token_to_id(byte_fallback_token(byte))) return *id;
  std::string stand_in;
  append_utf8(stand_in, byte_to_char(byte));
  return tokenizer.token_to_id(stand_in).value();
}

TEST_P(Stream, HoldsBackSplitCharacterUntilComplete) {
  const auto tokenizer = Tokenizer::load(fixture_dir(GetParam()) + "/tokenizer.json");
  const bool byte_fallback = tokenizer.token_to_id("<0xE4>").has_value();
  // "中" is E4 B8 AD, one token per byte.
  const std::vector<int32_t> ids = {byte_token(tokenizer, 0xE4), byte_token(tokenizer, 0xB8),
                                    byte_token(tokenizer, 0xAD)};
  StreamDecoder stream(tokenizer, true);
  EXPECT_EQ(stream.push(ids[0]), "");
  EXPECT_EQ(stream.push(ids[1]), "");
  // A byte-fallback run may still turn invalid, so it waits for a token that ends it (or the end).
  EXPECT_EQ(stream.push(ids[2]), byte_fallback ? "" : "中");
  EXPECT_EQ(stream.flush(), byte_fallback ? "中" : "");
  // An unfinished character at the end of the stream becomes U+FFFD, like decode: one for the
  // maximal invalid sequence (byte-level), one per byte (ByteFallback).
  EXPECT_EQ(stream.push(ids[0]), "");
  EXPECT_EQ(stream.push(ids[1]), "");
  EXPECT_EQ(stream.flush(), byte_fallback ? "\xEF\xBF\xBD\xEF\xBF\xBD" : "\xEF\xBF\xBD");
}

INSTANTIATE_TEST_SUITE_P(Fixtures, Stream, ::testing::ValuesIn(testing::kStyles));

}  // namespace
}  // namespace strata::tokenizer
