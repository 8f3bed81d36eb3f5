// The tokenizer.json "decoder" as data: the steps HF's decode_chain applies, in order, to the list of
// tokens being decoded (ByteLevel, ByteFallback, Fuse, Replace, Strip, Metaspace; a Sequence is
// flattened), whose results are then concatenated; a null decoder joins the tokens with spaces. Any
// other type (WordPiece, BPEDecoder, CTC, ...) is refused at load time, naming the field.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "strata/tokenizer/json_fields.h"
#include "strata/tokenizer/metaspace.h"
#include "strata/tokenizer/replace_pattern.h"

namespace strata::tokenizer {

struct DecodeStep {
  enum class Kind { ByteLevel, ByteFallback, Fuse, Replace, Strip, Metaspace };
  Kind kind = Kind::Fuse;
  // ByteLevel and Fuse turn the whole list into one token; every later step sees just that token.
  bool joins_tokens() const { return kind == Kind::ByteLevel || kind == Kind::Fuse; }

  std::optional<ReplacePattern> replace;  // Replace
  std::string strip_content;              // Strip: one character, as UTF-8
  size_t strip_start = 0;                 // Strip: at most this many leading `strip_content` removed
  size_t strip_stop = 0;                  // Strip: at most this many trailing ones removed
  Metaspace metaspace;                    // Metaspace
};

// Applies one step to `tokens` in place. `at_start`: tokens[0] is the first token of the whole decode
// (the Metaspace rule for the first token applies to it only).
void apply_decode_step(const DecodeStep& step, std::vector<std::string>& tokens, bool at_start);

// Strip on one token: up to `start` leading and `stop` trailing `content` characters removed. Where
// HF's two cuts would cross (it panics) the result is empty.
std::string strip_token(const std::string& token, const std::string& content, size_t start, size_t stop);

class Decoder {
 public:
  // `where` names the file and field, e.g. "tokenizer.json (path): decoder".
  static Decoder from_json(const Json& spec, const std::string& where);

  // The text of the tokens (already filtered of skipped ids), as HF's Tokenizer::decode.
  std::string decode(std::vector<std::string> tokens) const;

  bool joins_with_spaces() const { return !present_; }  // null decoder
  const std::vector<DecodeStep>& steps() const { return steps_; }

 private:
  void add(const Json& spec, const std::string& where);
  bool present_ = false;
  std::vector<DecodeStep> steps_;
};

}  // namespace strata::tokenizer
