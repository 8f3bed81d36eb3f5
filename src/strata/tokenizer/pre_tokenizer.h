// The tokenizer.json "pre_tokenizer": splits normalized text into the pieces ("words") BPE encodes one
// at a time. Supported: ByteLevel (GPT-2 regex, prefix space, byte -> stand-in mapping), Split (Regex
// or String pattern, every SplitDelimiterBehavior, invert), Digits, Sequence; null keeps the text whole.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "strata/tokenizer/json_fields.h"
#include "strata/tokenizer/regex.h"

namespace strata::tokenizer {

// What a Split does with the pieces its pattern matches ("delimiters").
enum class SplitBehavior { Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous };

// The GPT-2 pattern ByteLevel splits with when use_regex is true.
extern const char* const kGpt2SplitPattern;

class PreTokenizer {
 public:
  static PreTokenizer from_json(const Json& spec, const std::string& where);

  // Appends the pieces of one segment of VALID UTF-8 text (empty pieces are dropped, as in HF).
  void split(std::string_view text, std::vector<std::string>& pieces) const;

 private:
  struct Step {
    enum class Kind { ByteLevel, Split } kind = Kind::Split;
    bool add_prefix_space = false;  // ByteLevel
    std::optional<Regex> pattern;   // Split; ByteLevel with use_regex
    SplitBehavior behavior = SplitBehavior::Isolated;
    bool invert = false;
  };
  void add(const Json& spec, const std::string& where);
  static void apply(const Step& step, std::string_view piece, std::vector<std::string>& out);
  std::vector<Step> steps_;
};

}  // namespace strata::tokenizer
