// The BPE merge loop against a plain reference (repeatedly merge the lowest-ranked adjacent pair, the
// leftmost on ties) over random vocabularies and words, plus ignore_merges, unk and byte fallback.
#include <gtest/gtest.h>

#include <map>
#include <random>

#include "strata/tokenizer/tokenizer.h"

namespace strata::tokenizer {
namespace {

using nlohmann::json;

std::vector<std::string> reference_merge(const std::string& word, const std::map<std::pair<std::string, std::string>, int>& ranks) {
  std::vector<std::string> symbols;
  for (char c : word) symbols.emplace_back(1, c);
  while (true) {
    int best_rank = INT32_MAX;
    size_t best = 0;
    for (size_t i = 0; i + 1 < symbols.size(); ++i) {
      auto it = ranks.find({symbols[i], symbols[i + 1]});
      if (it != ranks.end() && it->second < best_rank) best_rank = it->second, best = i;
    }
    if (best_rank == INT32_MAX) return symbols;
    symbols[best] += symbols[best + 1];
    symbols.erase(symbols.begin() + static_cast<std::ptrdiff_t>(best) + 1);
  }
}

json model_tokenizer(const json& vocab, const json& merges) {
  return {{"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", merges}}}};
}

TEST(BpeModel, MatchesPlainReferenceOnRandomVocabularies) {
  std::mt19937 rng(7);
  for (int trial = 0; trial < 20; ++trial) {
    std::vector<std::string> tokens = {"a", "b", "c", "d"};
    json vocab = json::object();
    for (size_t i = 0; i < tokens.size(); ++i) vocab[tokens[i]] = i;
    json merges = json::array();
    std::map<std::pair<std::string, std::string>, int> ranks;
    for (int m = 0; m < 40; ++m) {
      const std::string left = tokens[rng() % tokens.size()], right = tokens[rng() % tokens.size()];
      if (ranks.contains({left, right}) || left.size() + right.size() > 8) continue;
      ranks[{left, right}] = static_cast<int>(merges.size());
      merges.push_back(json::array({left, right}));
      if (!vocab.contains(left + right)) {
        vocab[left + right] = tokens.size();
        tokens.push_back(left + right);
      }
    }
    const auto tokenizer = Tokenizer::from_json(model_tokenizer(vocab, merges));
    for (int w = 0; w < 200; ++w) {
      std::string word;
      const size_t length = 1 + rng() % 14;
      for (size_t i = 0; i < length; ++i) word.push_back("abcd"[rng() % 4]);
      std::vector<int32_t> expected;
      for (const auto& s : reference_merge(word, ranks)) expected.push_back(vocab[s].get<int32_t>());
      ASSERT_EQ(tokenizer.encode(word, false), expected) << "trial " << trial << " word " << word;
    }
  }
}

TEST(BpeModel, IgnoreMergesTakesWholeWordFromVocabulary) {
  // "abc" is in the vocabulary but the merges can only build "ab" + "c".
  const json vocab = {{"a", 0}, {"b", 1}, {"c", 2}, {"ab", 3}, {"abc", 4}};
  const json merges = json::array({"a b"});
  auto spec = model_tokenizer(vocab, merges);
  EXPECT_EQ(Tokenizer::from_json(spec).encode("abc", false), (std::vector<int32_t>{3, 2}));
  spec["model"]["ignore_merges"] = true;
  EXPECT_EQ(Tokenizer::from_json(spec).encode("abc", false), (std::vector<int32_t>{4}));
}

TEST(BpeModel, UnknownCharactersUseUnkByteFallbackOrVanish) {
  const json vocab = {{"a", 0}, {"<unk>", 1}, {"<0xC3>", 2}, {"<0xA9>", 3}};
  auto spec = model_tokenizer(vocab, json::array());
  EXPECT_EQ(Tokenizer::from_json(spec).encode("a\xC3\xA9xa", false), (std::vector<int32_t>{0, 0}));  // dropped
  spec["model"]["unk_token"] = "<unk>";
  EXPECT_EQ(Tokenizer::from_json(spec).encode("axya", false), (std::vector<int32_t>{0, 1, 1, 0}));
  spec["model"]["fuse_unk"] = true;
  EXPECT_EQ(Tokenizer::from_json(spec).encode("axya", false), (std::vector<int32_t>{0, 1, 0}));
  spec["model"]["byte_fallback"] = true;
  EXPECT_EQ(Tokenizer::from_json(spec).encode("\xC3\xA9x", false), (std::vector<int32_t>{2, 3, 1}));
}

}  // namespace
}  // namespace strata::tokenizer
