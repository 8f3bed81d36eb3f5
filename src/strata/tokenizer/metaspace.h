// Metaspace, the sentencepiece convention of spelling spaces as "▁" (U+2581), as a pre-tokenizer and as a
// decoder; both read the same JSON {"replacement", "prepend_scheme", "split"} (and the older
// "add_prefix_space"), with HF's defaults and refusals.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "strata/tokenizer/json_fields.h"

namespace strata::tokenizer {

// When the pre-tokenizer puts a replacement in front of a piece that does not start with one:
// First only on the piece that starts the input (offset 0 of the original text, so never on the text
// after an added token); Always on every piece; Never.
enum class PrependScheme { First, Never, Always };

struct Metaspace {
  std::string replacement;  // one character, as UTF-8
  PrependScheme prepend_scheme = PrependScheme::Always;
  bool split = true;  // split before every replacement (each piece keeps its leading one)

  // `where` names the component for errors, e.g. "tokenizer.json (path): pre_tokenizer".
  static Metaspace from_json(const Json& spec, const std::string& where);
};

// A piece of text on its way through the pre-tokenizers. `at_origin`: it starts at offset 0 of the input.
struct PrePiece {
  std::string text;
  bool at_origin = false;
};

// The pre-tokenizer on one non-empty piece: ' ' -> replacement, the prepend scheme, then (with split)
// one piece per replacement, merged with what follows it. Appends the non-empty results.
void metaspace_pre_tokenize(const Metaspace& metaspace, const PrePiece& piece, std::vector<PrePiece>& out);

// The decoder on one token: every replacement becomes ' ', except in the very first token of the
// decode (`first`), where, unless the scheme is Never, every replacement is dropped.
std::string metaspace_decode_token(const Metaspace& metaspace, std::string_view token, bool first);

}  // namespace strata::tokenizer
