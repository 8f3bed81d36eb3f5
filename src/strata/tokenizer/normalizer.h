// The tokenizer.json "normalizer": what is done to text (outside added tokens) before pre-tokenization.
// Supported: null (pass-through), NFC, Prepend (only to non-empty text), Replace (String or Regex
// pattern) and Sequence of those; anything else is refused at load time so a tokenizer never silently
// encodes differently from Hugging Face.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "strata/tokenizer/json_fields.h"
#include "strata/tokenizer/replace_pattern.h"

namespace strata::tokenizer {

class Normalizer {
 public:
  // `where` names the file and field for errors, e.g. "tokenizer.json (path): normalizer".
  static Normalizer from_json(const Json& spec, const std::string& where);

  // Text must be valid UTF-8.
  std::string apply(std::string_view text) const;
  bool is_identity() const { return steps_.empty(); }

 private:
  struct Step {
    enum class Kind { Nfc, Prepend, Replace } kind = Kind::Nfc;
    std::string prepend;                    // Prepend
    std::optional<ReplacePattern> replace;  // Replace
  };
  void add(const Json& spec, const std::string& where);
  std::vector<Step> steps_;
};

}  // namespace strata::tokenizer
