// StreamDecoder against Tokenizer::decode: for every prefix of every reference id sequence, what the
// stream has returned plus flush() equals the full decode of that prefix, and nothing returned early
// is ever taken back (it is a prefix of the final text).
#include <gtest/gtest.h>

#include "fixture_cases.h"
#include "strata/tokenizer/stream_decoder.h"

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

TEST_P(Stream, HoldsBackSplitCharacterUntilComplete) {
  const auto tokenizer = Tokenizer::load(fixture_dir(GetParam()) + "/tokenizer.json");
  // "中" is E4 B8 AD; each byte is its own token in the byte-level alphabet (U+00E4 stands for 0xE4,
  // U+00B8 for 0xB8).
  std::vector<int32_t> ids;
  for (const char* ch : {"\xC3\xA4", "\xC2\xB8"}) ids.push_back(*tokenizer.token_to_id(ch));
  // 0xAD maps to a stand-in above U+00FF; find it from the decode of each candidate.
  std::optional<int32_t> ad;
  for (int32_t id = 0; id < static_cast<int32_t>(tokenizer.vocab_size()) && !ad; ++id) {
    std::string raw;
    if (tokenizer.append_token_bytes(id, false, true, raw) && raw == "\xAD") ad = id;
  }
  ASSERT_TRUE(ad.has_value());
  ids.push_back(*ad);
  StreamDecoder stream(tokenizer, true);
  EXPECT_EQ(stream.push(ids[0]), "");
  EXPECT_EQ(stream.push(ids[1]), "");
  EXPECT_EQ(stream.push(ids[2]), "中");
  EXPECT_EQ(stream.flush(), "");
  // An unfinished character at the end of the stream becomes one U+FFFD, like decode.
  EXPECT_EQ(stream.push(ids[0]), "");
  EXPECT_EQ(stream.push(ids[1]), "");
  EXPECT_EQ(stream.flush(), "\xEF\xBF\xBD");
}

INSTANTIATE_TEST_SUITE_P(Fixtures, Stream, ::testing::Values("neox", "nemotron"));

}  // namespace
}  // namespace strata::tokenizer
