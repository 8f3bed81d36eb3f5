// The sentencepiece-converted BPE (Llama/Mistral) in both tokenizer.json spellings, on tiny hand-written
// tokenizers whose expected ids and text follow from HF's Rust code by hand: byte fallback and fuse_unk
// (models/bpe/model.rs merge_word), Prepend (only non-empty text) and Replace, Metaspace's prepend
// schemes ("first": offset 0 of the input only), ByteFallback (one U+FFFD per byte of an invalid run),
// Strip, the Metaspace decoder's first-token rule, and added tokens through the normalizer.
#include <gtest/gtest.h>

#include <random>

#include "strata/core/error.h"
#include "strata/tokenizer/byte_fallback.h"
#include "strata/tokenizer/stream_decoder.h"
#include "strata/tokenizer/tokenizer.h"

namespace strata::tokenizer {
namespace {

using nlohmann::json;
using Ids = std::vector<int32_t>;

constexpr int32_t kUnk = 0, kBos = 1, kEos = 2;
constexpr int32_t kMeta = 259, kA = 260, kB = 261, kMetaA = 262, kMetaB = 263, kDigit1 = 264, kMetaMeta = 265;
int32_t byte_id(uint8_t byte) { return 3 + byte; }  // the Llama layout: <0x00> is id 3

json special(int32_t id, const std::string& content) {
  return {{"id", id},        {"content", content},  {"single_word", false}, {"lstrip", false},
          {"rstrip", false}, {"normalized", false}, {"special", true}};
}

json metaspace(const std::string& scheme, bool split) {
  return {{"type", "Metaspace"}, {"replacement", "\u2581"}, {"prepend_scheme", scheme}, {"split", split}};
}

json llama_decoder() {
  return json::parse(R"({"type": "Sequence", "decoders": [
      {"type": "Replace", "pattern": {"String": "▁"}, "content": " "}, {"type": "ByteFallback"}, {"type": "Fuse"},
      {"type": "Strip", "content": " ", "start": 1, "stop": 0}]})");
}

// Llama-2's legacy spelling: <unk> <s> </s>, the 256 byte tokens, then "▁", "a", "b", "▁a", "▁b", "1", "▁▁".
json legacy_llama() {
  json vocab = {{"<unk>", kUnk}, {"<s>", kBos}, {"</s>", kEos}};
  for (int b = 0; b < 256; ++b)
    vocab[byte_fallback_token(static_cast<uint8_t>(b))] = byte_id(static_cast<uint8_t>(b));
  vocab["\u2581"] = kMeta;
  vocab["a"] = kA;
  vocab["b"] = kB;
  vocab["\u2581a"] = kMetaA;
  vocab["\u2581b"] = kMetaB;
  vocab["1"] = kDigit1;
  vocab["\u2581\u2581"] = kMetaMeta;
  return {
      {"added_tokens", {special(kUnk, "<unk>"), special(kBos, "<s>"), special(kEos, "</s>")}},
      {"normalizer", json::parse(R"({"type": "Sequence", "normalizers": [{"type": "Prepend", "prepend": "▁"},
          {"type": "Replace", "pattern": {"String": " "}, "content": "▁"}]})")},
      {"pre_tokenizer", nullptr},
      {"post_processor", json::parse(R"({"type": "TemplateProcessing",
          "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
          "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}}})")},
      {"decoder", llama_decoder()},
      {"model",
       {{"type", "BPE"},
        {"dropout", nullptr},
        {"unk_token", "<unk>"},
        {"fuse_unk", true},
        {"byte_fallback", true},
        {"vocab", vocab},
        {"merges", {"\u2581 a", "\u2581 b", "\u2581 \u2581"}}}},
  };
}

// The newer spelling: no normalizer, a Metaspace pre-tokenizer and decoder.
json metaspace_llama(const std::string& scheme, bool split = true) {
  json spec = legacy_llama();
  spec["normalizer"] = nullptr;
  spec["pre_tokenizer"] = metaspace(scheme, split);
  spec["decoder"] = {{"type", "Sequence"},
                     {"decoders", {{{"type", "ByteFallback"}}, metaspace(scheme, split)}}};
  return spec;
}

Tokenizer load(const json& spec) { return Tokenizer::from_json(spec, nullptr, "tokenizer.json 'hand'"); }

TEST(SentencepieceLegacy, PrependsOnlyToNonEmptyTextAndAfterEverySpecialToken) {
  const auto t = load(legacy_llama());
  EXPECT_EQ(t.encode("a b", false), (Ids{kMetaA, kMetaB}));
  EXPECT_EQ(t.encode("a b", true), (Ids{kBos, kMetaA, kMetaB}));
  EXPECT_EQ(t.encode(" a", false), (Ids{kMeta, kMetaA}));  // "▁▁a": "▁ a" outranks "▁ ▁"
  EXPECT_EQ(t.encode("", false), Ids{});
  EXPECT_EQ(t.encode("", true), Ids{kBos});
  // Each part between raw added tokens is normalized on its own, so Prepend applies after <s> too.
  EXPECT_EQ(t.encode("<s>a", false), (Ids{kBos, kMetaA}));
  EXPECT_EQ(t.encode("a<s>b</s>", false), (Ids{kMetaA, kBos, kMetaB, kEos}));
}

TEST(SentencepieceLegacy, UnknownCharactersFallBackToOneTokenPerUtf8Byte) {
  const auto t = load(legacy_llama());
  // "🤗" is F0 9F A4 97.
  EXPECT_EQ(t.encode("\xF0\x9F\xA4\x97", false),
            (Ids{kMeta, byte_id(0xF0), byte_id(0x9F), byte_id(0xA4), byte_id(0x97)}));
  // "<0x41>" written out is six ordinary (unknown) characters, not the byte token.
  EXPECT_EQ(t.encode("<0x41>", false),
            (Ids{kMeta, byte_id('<'), byte_id('0'), byte_id('x'), byte_id('4'), kDigit1, byte_id('>')}));
  EXPECT_EQ(t.decode(t.encode("<0x41>", false), false), "<0x41>");
}

TEST(SentencepieceLegacy, FuseUnkAndTheOrderOfHeldBackUnk) {
  json spec = legacy_llama();
  spec["model"]["byte_fallback"] = false;
  EXPECT_EQ(load(spec).encode("a\xE2\x98\x83\xE2\x98\x83"
                              "b",
                              false),
            (Ids{kMetaA, kUnk, kB}));  // "a☃☃b"
  spec["model"]["fuse_unk"] = false;
  EXPECT_EQ(load(spec).encode("a\xE2\x98\x83\xE2\x98\x83"
                              "b",
                              false),
            (Ids{kMetaA, kUnk, kUnk, kB}));

  // With byte fallback but no <0xE2> token, "☃" (E2 98 83) is unk while "é" (C3 A9) falls back to
  // bytes. HF holds an unk back until the next known character, so the byte tokens come first and a
  // later unk fuses with the held one across them.
  spec = legacy_llama();
  spec["model"]["vocab"].erase("<0xE2>");
  const std::string snowman = "\xE2\x98\x83", e_acute = "\xC3\xA9";
  EXPECT_EQ(load(spec).encode(snowman + e_acute, false), (Ids{kMeta, byte_id(0xC3), byte_id(0xA9), kUnk}));
  EXPECT_EQ(load(spec).encode(snowman + e_acute + snowman, false),
            (Ids{kMeta, byte_id(0xC3), byte_id(0xA9), kUnk}));
  EXPECT_EQ(load(spec).encode(snowman + e_acute + snowman + "a", false),
            (Ids{kMeta, byte_id(0xC3), byte_id(0xA9), kUnk, kA}));
  spec["model"]["fuse_unk"] = false;
  EXPECT_EQ(load(spec).encode(snowman + e_acute + snowman, false),
            (Ids{kMeta, byte_id(0xC3), byte_id(0xA9), kUnk, kUnk}));
}

TEST(SentencepieceLegacy, AddedTokensMatchTheNormalizedText) {
  json spec = legacy_llama();
  // A normalized token's own content is normalized: "x y" -> "▁x▁y", "  " -> "▁▁▁".
  spec["added_tokens"].push_back({{"id", 300}, {"content", "x y"}, {"normalized", true}, {"special", false}});
  spec["added_tokens"].push_back({{"id", 301}, {"content", "  "}, {"normalized", true}, {"special", false}});
  const auto t = load(spec);
  EXPECT_EQ(t.encode("x y", false), Ids{300});
  EXPECT_EQ(t.encode("b x y", false), (Ids{kMetaB, 300}));
  EXPECT_EQ(t.encode("a   b", false), (Ids{kMetaA, 301, kB}));       // "▁a▁▁▁b"
  EXPECT_EQ(t.encode("a  b", false), (Ids{kMetaA, kMeta, kMetaB}));  // only "▁▁": no match
  // The decoder sees a normalized token's normalized form ("▁▁▁"), as tokenizers >= 0.23 does (0.22
  // gave it the raw content, "  "), so the text comes back as it went in.
  EXPECT_EQ(t.decode(Ids{kMetaA, 301, kB}, false), "a   b");
  EXPECT_EQ(t.decode(Ids{300}, false), "x y");
}

TEST(SentencepieceLegacy, DecodeFusesBytesAndStripsOneLeadingSpace) {
  const auto t = load(legacy_llama());
  EXPECT_EQ(t.decode(Ids{byte_id(0xE2), byte_id(0x82), byte_id(0xAC)}, false), "\xE2\x82\xAC");  // €
  EXPECT_EQ(t.decode(Ids{byte_id(0xFF)}, false), "\xEF\xBF\xBD");
  // An invalid run gives one U+FFFD per byte, even for the bytes that were fine on their own.
  EXPECT_EQ(t.decode(Ids{byte_id(0x41), byte_id(0xFF)}, false), "\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(t.decode(Ids{byte_id(0xE2), byte_id(0x82), kMetaA}, false), "\xEF\xBF\xBD\xEF\xBF\xBD a");
  EXPECT_EQ(t.decode(Ids{kMetaA, kMetaB}, false), "a b");
  EXPECT_EQ(t.decode(Ids{kMeta, kMeta, kMetaA}, false), "  a");  // only the first space goes
  EXPECT_EQ(t.decode(Ids{kBos, kMetaA}, false), "<s> a");        // the text starts with '<': nothing to strip
  EXPECT_EQ(t.decode(Ids{kBos, kMetaA}, true), "a");
  EXPECT_EQ(t.decode(Ids{kMetaA, kUnk, kMetaB}, true), "a b");
  // A "▁" that comes out of byte tokens is not replaced: Replace runs before ByteFallback.
  EXPECT_EQ(t.decode(Ids{byte_id(0xE2), byte_id(0x96), byte_id(0x81), kMetaA}, false), "\xE2\x96\x81 a");
}

TEST(SentencepieceLegacy, StripIsPerTokenBeforeFuseAndCanTakeTrailingCharacters) {
  json spec = legacy_llama();
  spec["decoder"] = json::parse(R"({"type": "Sequence", "decoders": [
      {"type": "Replace", "pattern": {"String": "▁"}, "content": " "}, {"type": "ByteFallback"},
      {"type": "Strip", "content": " ", "start": 1, "stop": 0}, {"type": "Fuse"}]})");
  EXPECT_EQ(load(spec).decode(Ids{kMetaA, kMetaB, kMetaMeta}, false), "ab ");
  spec["decoder"]["decoders"][2] = {{"type", "Strip"}, {"content", " "}, {"start", 0}, {"stop", 2}};
  std::swap(spec["decoder"]["decoders"][2], spec["decoder"]["decoders"][3]);  // Fuse, then Strip
  EXPECT_EQ(load(spec).decode(Ids{kMetaA, kMeta, kMeta, kMeta}, false), " a ");
}

TEST(SentencepieceMetaspace, PrependSchemes) {
  // "first": only the text that starts the input; not after an added token at the start.
  auto t = load(metaspace_llama("first"));
  EXPECT_EQ(t.encode("a b", false), (Ids{kMetaA, kMetaB}));
  EXPECT_EQ(t.encode("a b", true), (Ids{kBos, kMetaA, kMetaB}));
  EXPECT_EQ(t.encode("<s>a b", false), (Ids{kBos, kA, kMetaB}));
  EXPECT_EQ(t.encode("a<s>b", false), (Ids{kMetaA, kBos, kB}));
  EXPECT_EQ(t.encode(" a", false), (Ids{kMetaA}));  // starts with one already: nothing prepended
  EXPECT_EQ(t.encode("", true), Ids{kBos});
  t = load(metaspace_llama("always"));
  EXPECT_EQ(t.encode("<s>a b", false), (Ids{kBos, kMetaA, kMetaB}));
  EXPECT_EQ(t.encode("a<s>b", false), (Ids{kMetaA, kBos, kMetaB}));
  t = load(metaspace_llama("never"));
  EXPECT_EQ(t.encode("a b", false), (Ids{kA, kMetaB}));
  EXPECT_EQ(t.encode("<s> b", false), (Ids{kBos, kMetaB}));
  // Without split the whole text is one piece, so a merge can join two "▁" of a run.
  t = load(metaspace_llama("first", false));
  EXPECT_EQ(t.encode("a b", false), (Ids{kMetaA, kMetaB}));
  EXPECT_EQ(t.encode("a   b", false), (Ids{kMetaA, kMetaMeta, kMetaB}));
  EXPECT_EQ(load(metaspace_llama("first", true)).encode("a   b", false), (Ids{kMetaA, kMeta, kMeta, kMetaB}));
}

TEST(SentencepieceMetaspace, FirstMeansOffsetZeroAfterEarlierPreTokenizers) {
  json spec = metaspace_llama("first");
  spec["pre_tokenizer"] = {{"type", "Sequence"},
                           {"pretokenizers",
                            {{{"type", "Split"}, {"pattern", {{"Regex", "\\d"}}}, {"behavior", "Isolated"}},
                             metaspace("first", true)}}};
  const auto t = load(spec);
  EXPECT_EQ(t.encode("1a", false), (Ids{kMeta, kDigit1, kA}));  // "1" starts the input, "a" does not
  EXPECT_EQ(t.encode("a1b", false), (Ids{kMetaA, kDigit1, kB}));
}

TEST(SentencepieceMetaspace, DecoderDropsReplacementsOfTheFirstTokenOnly) {
  auto t = load(metaspace_llama("first"));
  EXPECT_EQ(t.decode(Ids{kMetaA, kMetaB}, false), "a b");
  EXPECT_EQ(t.decode(Ids{kMetaMeta, kMetaA}, false), " a");  // every "▁" of the first token goes
  EXPECT_EQ(t.decode(Ids{kBos, kMetaA}, false), "<s> a");    // the first token is <s>
  EXPECT_EQ(t.decode(Ids{kBos, kMetaA}, true), "a");         // skipped: "▁a" is first
  EXPECT_EQ(t.decode(Ids{byte_id(0xE2), byte_id(0x82), byte_id(0xAC), kMetaA}, false), "\xE2\x82\xAC a");
  t = load(metaspace_llama("never"));
  EXPECT_EQ(t.decode(Ids{kMetaMeta, kMetaA}, false), "   a");
  EXPECT_EQ(t.decode(Ids{kMetaA, kMetaB}, false), " a b");
}

TEST(SentencepieceMetaspace, OldAddPrefixSpaceSpelling) {
  json spec = metaspace_llama("first");
  spec["pre_tokenizer"] = {{"type", "Metaspace"}, {"replacement", "\u2581"}, {"add_prefix_space", true}};
  EXPECT_EQ(load(spec).encode("<s>a", false), (Ids{kBos, kMetaA}));  // defaults: always, split
  spec["pre_tokenizer"] = {{"type", "Metaspace"},
                           {"replacement", "\u2581"},
                           {"add_prefix_space", false},
                           {"prepend_scheme", "never"}};
  EXPECT_EQ(load(spec).encode("a", false), (Ids{kA}));
}

TEST(ByteFallbackToken, ParsesAsRustFromStrRadix) {
  EXPECT_EQ(byte_fallback_value("<0x0A>"), 10);
  EXPECT_EQ(byte_fallback_value("<0xff>"), 255);
  EXPECT_EQ(byte_fallback_value("<0x+A>"), 10);  // Rust accepts a leading '+'
  EXPECT_FALSE(byte_fallback_value("<0x-A>").has_value());
  EXPECT_FALSE(byte_fallback_value("<0xG1>").has_value());
  EXPECT_FALSE(byte_fallback_value("<0x1>").has_value());
  EXPECT_FALSE(byte_fallback_value("<0x100>").has_value());
  EXPECT_FALSE(byte_fallback_value("<0X41>").has_value());
  EXPECT_EQ(byte_fallback_token(0x0A), "<0x0A>");
}

std::string error_of(const json& spec) {
  try {
    load(spec);
  } catch (const Error& error) {
    return error.what();
  }
  ADD_FAILURE() << "expected strata::Error for " << spec.dump().substr(0, 200);
  return "";
}

TEST(SentencepieceHostile, BadComponentsNameTheField) {
  json spec = legacy_llama();
  spec["decoder"] = {{"type", "WordPiece"}, {"prefix", "##"}};
  auto message = error_of(spec);
  EXPECT_NE(message.find("hand': decoder: unsupported decoder type 'WordPiece'"), std::string::npos)
      << message;

  spec["decoder"] = llama_decoder();
  spec["decoder"]["decoders"][2] = {{"type", "CTC"}};
  EXPECT_NE(error_of(spec).find("decoder.decoders[2]: unsupported decoder type 'CTC'"), std::string::npos);

  spec = metaspace_llama("first");
  spec["pre_tokenizer"].erase("replacement");
  message = error_of(spec);
  EXPECT_NE(message.find("pre_tokenizer: missing field 'replacement'"), std::string::npos) << message;
  spec["pre_tokenizer"]["replacement"] = "__";
  EXPECT_NE(error_of(spec).find("pre_tokenizer.replacement: expected exactly one character"),
            std::string::npos);
  spec["pre_tokenizer"]["replacement"] = 7;
  EXPECT_NE(error_of(spec).find("pre_tokenizer.replacement"), std::string::npos);
  spec["pre_tokenizer"] = metaspace("sometimes", true);
  EXPECT_NE(error_of(spec).find("pre_tokenizer.prepend_scheme"), std::string::npos);
  spec["pre_tokenizer"] = {{"type", "Metaspace"}, {"replacement", "\u2581"}, {"add_prefix_space", false}};
  EXPECT_NE(error_of(spec).find("pre_tokenizer.add_prefix_space"), std::string::npos);  // HF refuses it too
  spec = metaspace_llama("first");
  spec["decoder"]["decoders"][1].erase("replacement");
  EXPECT_NE(error_of(spec).find("decoder.decoders[1]: missing field 'replacement'"), std::string::npos);

  spec = legacy_llama();
  spec["normalizer"]["normalizers"][0]["prepend"] = 5;
  message = error_of(spec);
  EXPECT_NE(message.find("normalizer.normalizers[0].prepend: expected a string"), std::string::npos)
      << message;
  spec = legacy_llama();
  spec["normalizer"]["normalizers"][1]["pattern"] = " ";
  EXPECT_NE(error_of(spec).find("normalizer.normalizers[1].pattern: expected"), std::string::npos);
  spec["normalizer"]["normalizers"][1]["pattern"] = {{"String", ""}};
  EXPECT_NE(error_of(spec).find("normalizer.normalizers[1].pattern.String"), std::string::npos);
  spec["normalizer"]["normalizers"][1] = {{"type", "Lowercase"}};
  EXPECT_NE(error_of(spec).find("unsupported normalizer type 'Lowercase'"), std::string::npos);

  spec = legacy_llama();
  spec["decoder"]["decoders"][3].erase("start");
  EXPECT_NE(error_of(spec).find("decoder.decoders[3]: missing field 'start'"), std::string::npos);
  spec["decoder"]["decoders"][3]["start"] = -1;
  EXPECT_NE(error_of(spec).find("decoder.decoders[3].start: expected a non-negative integer"),
            std::string::npos);
  spec["decoder"]["decoders"][3]["start"] = 1;
  spec["decoder"]["decoders"][3]["content"] = "";
  EXPECT_NE(error_of(spec).find("decoder.decoders[3].content"), std::string::npos);
  spec["decoder"]["decoders"][0].erase("content");
  EXPECT_NE(error_of(spec).find("decoder.decoders[0]: missing field 'content'"), std::string::npos);
}

// StreamDecoder against Tokenizer::decode (which applies the steps to the whole list, as HF) over
// random id sequences and many decoder pipelines, including ones the stream must hold to the end.
TEST(SentencepieceStream, EqualsDecodeOfEveryPrefixForManyPipelines) {
  const char* const pipelines[] = {
      R"({"type": "Sequence", "decoders": [{"type": "Replace", "pattern": {"String": "▁"}, "content": " "},
          {"type": "ByteFallback"}, {"type": "Fuse"}, {"type": "Strip", "content": " ", "start": 1, "stop": 0}]})",
      R"({"type": "Sequence", "decoders": [{"type": "ByteFallback"},
          {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "first", "split": true}]})",
      R"({"type": "Metaspace", "replacement": "▁", "prepend_scheme": "never", "split": true})",
      R"({"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always", "split": false})",
      R"({"type": "Sequence", "decoders": [{"type": "Replace", "pattern": {"String": "▁"}, "content": " "},
          {"type": "ByteFallback"}, {"type": "Strip", "content": " ", "start": 1, "stop": 0}, {"type": "Fuse"}]})",
      R"({"type": "Sequence", "decoders": [{"type": "Replace", "pattern": {"String": "▁"}, "content": " "},
          {"type": "ByteFallback"}, {"type": "Fuse"}, {"type": "Strip", "content": " ", "start": 2, "stop": 2}]})",
      R"({"type": "Sequence", "decoders": [{"type": "Replace", "pattern": {"String": "▁"}, "content": " "},
          {"type": "ByteFallback"}, {"type": "Strip", "content": " ", "start": 1, "stop": 1}]})",
      R"({"type": "Sequence", "decoders": [{"type": "ByteFallback"}, {"type": "Fuse"},
          {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "first", "split": true}]})",
      R"({"type": "Sequence", "decoders": [{"type": "ByteFallback"}, {"type": "Fuse"},
          {"type": "Replace", "pattern": {"String": "▁"}, "content": "_"}]})",
      R"({"type": "Sequence", "decoders": [{"type": "ByteFallback"}, {"type": "Fuse"},
          {"type": "Replace", "pattern": {"String": "▁▁"}, "content": "="}]})",
      R"({"type": "Sequence", "decoders": [{"type": "ByteFallback"}, {"type": "Fuse"}, {"type": "ByteFallback"}]})",
      R"({"type": "Sequence", "decoders": [
          {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "first", "split": true},
          {"type": "ByteFallback"}, {"type": "ByteFallback"}, {"type": "Fuse"},
          {"type": "Strip", "content": " ", "start": 1, "stop": 0}]})",
      R"({"type": "ByteLevel"})",
      R"({"type": "Sequence", "decoders": [{"type": "ByteLevel"}, {"type": "Strip", "content": "a", "start": 1, "stop": 1}]})",
      R"({"type": "Sequence", "decoders": []})",
      "null",
  };
  const Ids pool = {kUnk,
                    kBos,
                    kEos,
                    kMeta,
                    kA,
                    kB,
                    kMetaA,
                    kMetaB,
                    kMetaMeta,
                    byte_id(0x20),
                    byte_id(0x41),
                    byte_id(0xE2),
                    byte_id(0x82),
                    byte_id(0xAC),
                    byte_id(0x96),
                    byte_id(0x81),
                    byte_id(0xFF),
                    byte_id(0xC3),
                    byte_id(0xA9),
                    byte_id(0xF0),
                    byte_id(0x9F),
                    100000,
                    -1};
  std::mt19937 rng(11);
  for (const char* pipeline : pipelines) {
    json spec = legacy_llama();
    spec["decoder"] = json::parse(pipeline);
    const auto tokenizer = load(spec);
    for (int trial = 0; trial < 300; ++trial) {
      Ids ids(rng() % 12);
      for (int32_t& id : ids) id = pool[rng() % pool.size()];
      for (bool skip : {false, true}) {
        StreamDecoder stream(tokenizer, skip);
        std::string streamed;
        for (size_t k = 0; k < ids.size(); ++k) {
          streamed += stream.push(ids[k]);
          const std::string prefix = tokenizer.decode(std::span(ids).first(k + 1), skip);
          ASSERT_EQ(prefix.compare(0, streamed.size(), streamed), 0)
              << pipeline << " trial " << trial << " at " << k << ": \"" << streamed << "\" vs \"" << prefix
              << "\"";
        }
        streamed += stream.flush();
        ASSERT_EQ(streamed, tokenizer.decode(ids, skip)) << pipeline << " trial " << trial;
      }
    }
  }
}

TEST(SentencepieceStream, TextComesOutAsSoonAsItIsFinal) {
  const auto t = load(legacy_llama());
  StreamDecoder stream(t, false);
  EXPECT_EQ(stream.push(kMetaA), "a");  // the one leading space is stripped at once
  EXPECT_EQ(stream.push(kMetaB), " b");
  EXPECT_EQ(stream.push(byte_id(0xE2)), "");  // a byte run waits for the token that ends it
  EXPECT_EQ(stream.push(byte_id(0x82)), "");
  EXPECT_EQ(stream.push(byte_id(0xAC)), "");
  EXPECT_EQ(stream.push(kMetaA), "\xE2\x82\xAC a");
  EXPECT_EQ(stream.push(byte_id(0x41)), "");
  EXPECT_EQ(stream.flush(), "A");
  // A fresh stream strips its first space again.
  EXPECT_EQ(stream.push(kMeta), "");
  EXPECT_EQ(stream.push(kMetaA), " a");
  EXPECT_EQ(stream.flush(), "");

  json spec = legacy_llama();
  spec["decoder"]["decoders"][3]["stop"] = 1;  // trailing spaces wait: a later character keeps them
  const auto with_stop = load(spec);
  StreamDecoder trailing(with_stop, false);
  EXPECT_EQ(trailing.push(kMetaA), "a");
  EXPECT_EQ(trailing.push(kMeta), "");
  EXPECT_EQ(trailing.push(kMeta), " ");
  EXPECT_EQ(trailing.push(kB), " b");
  EXPECT_EQ(trailing.push(kMeta), "");
  EXPECT_EQ(trailing.flush(), "");

  spec["decoder"]["decoders"][3] = {{"type", "Replace"}, {"pattern", {{"String", "  "}}}, {"content", "="}};
  const auto with_replace = load(spec);
  StreamDecoder whole(with_replace, false);  // a two-character Replace after Fuse: all text at the end
  EXPECT_EQ(whole.push(kMetaA), "");
  EXPECT_EQ(whole.push(kMetaMeta), "");
  EXPECT_EQ(whole.flush(), " a=");
}

}  // namespace
}  // namespace strata::tokenizer
