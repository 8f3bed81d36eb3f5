// Added and special tokens (tokenizer.json "added_tokens"): found in the text before the model sees it,
// leftmost-longest like HF's Aho-Corasick matcher, with the single_word / lstrip / rstrip rules.
// Tokens with normalized=false match the raw text; normalized=true ones match the normalized text.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace strata::tokenizer {

struct AddedToken {
  int32_t id = 0;
  std::string content;
  bool single_word = false;
  bool lstrip = false;
  bool rstrip = false;
  bool normalized = true;
  bool special = false;
};

// A run of the text: an added token (id >= 0) or plain text to be encoded by the model (id == -1).
struct TextSegment {
  size_t begin;
  size_t end;
  int32_t id;
};

// Matches one set of added tokens (all raw, or all normalized) in a text.
class AddedTokenMatcher {
 public:
  AddedTokenMatcher() = default;
  // `patterns[i]` is the text to look for (the content, normalized when the token is) of `tokens[i]`.
  AddedTokenMatcher(std::vector<AddedToken> tokens, const std::vector<std::string>& patterns);

  bool empty() const { return tokens_.empty(); }
  // Splits VALID UTF-8 text into segments covering all of it (empty text: no segments).
  std::vector<TextSegment> split(std::string_view text) const;

 private:
  struct Node {
    std::vector<std::pair<uint8_t, int32_t>> children;
    int32_t token = -1;  // index into tokens_ when a pattern ends here
  };
  int32_t child(int32_t node, uint8_t byte) const;
  std::vector<AddedToken> tokens_;
  std::vector<Node> trie_;
};

}  // namespace strata::tokenizer
