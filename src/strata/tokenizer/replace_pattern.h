// The "Replace" component, shared by the normalizer and the decoder of the same name:
// {"pattern": {"String": " "} | {"Regex": "..."}, "content": "▁"}, every leftmost non-overlapping match
// of the pattern replaced by the content, as HF's NormalizedString::replace and Replace::decode_chain do.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "strata/tokenizer/json_fields.h"
#include "strata/tokenizer/regex.h"

namespace strata::tokenizer {

class ReplacePattern {
 public:
  // `where` names the component, e.g. "tokenizer.json (path): normalizer.normalizers[1]".
  static ReplacePattern from_json(const Json& spec, const std::string& where);

  // Text must be valid UTF-8.
  std::string apply(std::string_view text) const;

  // A literal pattern of exactly one character: the replacement then works character by character,
  // so it can be applied to a growing text piece by piece (the stream decoder relies on this).
  bool is_single_character() const { return single_character_; }

 private:
  std::string literal_;         // a String pattern
  std::optional<Regex> regex_;  // a Regex pattern
  std::string content_;
  bool single_character_ = false;
};

}  // namespace strata::tokenizer
