// A Hugging Face tokenizer.json BPE loaded for encoding and decoding, with bos/eos from
// tokenizer_config.json: byte-level BPE (GPT-2/NeoX, tiktoken-style) and the sentencepiece-converted
// Llama/Mistral style (Prepend/Replace normalizer or Metaspace pre-tokenizer, byte fallback, unk).
// encode = added tokens -> normalizer -> pre-tokenizer -> BPE -> post-processor; decode = tokens ->
// decoder steps (decoder.h). Both match the `tokenizers` library exactly.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "strata/tokenizer/added_tokens.h"
#include "strata/tokenizer/bpe_model.h"
#include "strata/tokenizer/decoder.h"
#include "strata/tokenizer/json_fields.h"
#include "strata/tokenizer/normalizer.h"
#include "strata/tokenizer/post_processor.h"
#include "strata/tokenizer/pre_tokenizer.h"

namespace strata::tokenizer {

class Tokenizer {
 public:
  // Reads tokenizer.json and, when given (or when a tokenizer_config.json sits next to it and
  // `config_path` is empty), tokenizer_config.json. Throws strata::Error naming the file and field.
  static Tokenizer load(const std::filesystem::path& tokenizer_json,
                        const std::filesystem::path& config_path = {});
  // The same from parsed JSON; `source` names where it came from in error messages. `config` may be null.
  static Tokenizer from_json(const Json& tokenizer_json, const Json& config = nullptr,
                             const std::string& source = "tokenizer.json");

  // Invalid UTF-8 in `text` is first replaced by U+FFFD (as Python's errors="replace").
  std::vector<int32_t> encode(std::string_view text, bool add_special_tokens) const;
  // Unknown ids are skipped, as HF does; invalid UTF-8 that results becomes U+FFFD.
  std::string decode(std::span<const int32_t> ids, bool skip_special_tokens) const;

  std::optional<int32_t> token_to_id(std::string_view token) const;
  std::optional<std::string> id_to_token(int32_t id) const;
  // One past the largest id of the model or the added tokens: the rows an embedding needs.
  size_t vocab_size() const;
  std::optional<int32_t> bos_id() const { return bos_id_; }
  std::optional<int32_t> eos_id() const { return eos_id_; }
  bool is_special(int32_t id) const;

  // The token an id contributes to a decode, or nullopt when the id is skipped: unknown, or with
  // skip_special_tokens spelled like a special token (HF compares text). An added token contributes its
  // content, normalized when the token is (as tokenizers >= 0.23; 0.22 used the raw content); any other
  // id the model's token.
  std::optional<std::string_view> token_for_decode(int32_t id, bool skip_special_tokens) const;
  const Decoder& decoder() const { return decoder_; }

 private:
  // `at_origin`: the segment starts at offset 0 of the input (Metaspace's prepend_scheme "first").
  void encode_segment(std::string_view text, bool at_origin, std::vector<int32_t>& ids) const;

  std::shared_ptr<const BpeModel> model_;
  Normalizer normalizer_;
  PreTokenizer pre_tokenizer_;
  PostProcessor post_processor_;
  Decoder decoder_;
  std::vector<AddedToken> added_tokens_;
  std::vector<std::string> added_decode_text_;  // per added token: what it decodes as
  StringMap<int32_t> added_by_content_;
  std::vector<int32_t> added_index_by_id_;  // id -> index into added_tokens_, -1 if none
  AddedTokenMatcher raw_matcher_;
  AddedTokenMatcher normalized_matcher_;
  std::optional<int32_t> bos_id_;
  std::optional<int32_t> eos_id_;
};

}  // namespace strata::tokenizer
