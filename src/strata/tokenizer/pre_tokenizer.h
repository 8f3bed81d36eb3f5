// The tokenizer.json "pre_tokenizer": splits normalized text into the pieces ("words") BPE encodes one
// at a time. Supported: ByteLevel (GPT-2 regex, prefix space, byte -> stand-in mapping), Split (Regex
// or String pattern, every SplitDelimiterBehavior, invert), Digits, Metaspace (metaspace.h), Sequence;
// null keeps the text whole. Anything else is refused at load time.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "strata/tokenizer/json_fields.h"
#include "strata/tokenizer/metaspace.h"
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
  // `at_origin`: the segment starts at offset 0 of the input text (no added token and no other text
  // before it), which is what Metaspace's prepend_scheme "first" asks.
  void split(std::string_view text, bool at_origin, std::vector<std::string>& pieces) const;

 private:
  struct Step {
    enum class Kind { ByteLevel, Split, Metaspace } kind = Kind::Split;
    bool add_prefix_space = false;  // ByteLevel
    std::optional<Regex> pattern;   // Split; ByteLevel with use_regex
    SplitBehavior behavior = SplitBehavior::Isolated;
    bool invert = false;
    Metaspace metaspace;  // Metaspace
  };
  void add(const Json& spec, const std::string& where);
  static void apply(const Step& step, const PrePiece& piece, std::vector<PrePiece>& out);
  std::vector<Step> steps_;
};

}  // namespace strata::tokenizer
