// A Hugging Face tokenizer.json (byte-level BPE) loaded for encoding and decoding, with bos/eos from
// tokenizer_config.json. encode = added tokens -> normalizer -> pre-tokenizer -> BPE -> post-processor;
// decode = tokens -> bytes (ByteLevel decoder) -> lossy UTF-8. Both match the `tokenizers` library.
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

  // The raw bytes one id decodes to (before UTF-8 repair); false when the id is skipped. `first` says
  // whether any token came before (a tokenizer without decoder joins tokens with spaces).
  bool append_token_bytes(int32_t id, bool skip_special_tokens, bool first, std::string& bytes) const;

 private:
  void encode_segment(std::string_view text, std::vector<int32_t>& ids) const;

  std::shared_ptr<const BpeModel> model_;
  Normalizer normalizer_;
  PreTokenizer pre_tokenizer_;
  PostProcessor post_processor_;
  bool byte_level_decoder_ = false;
  std::vector<AddedToken> added_tokens_;
  StringMap<int32_t> added_by_content_;
  std::vector<int32_t> added_index_by_id_;  // id -> index into added_tokens_, -1 if none
  AddedTokenMatcher raw_matcher_;
  AddedTokenMatcher normalized_matcher_;
  std::optional<int32_t> bos_id_;
  std::optional<int32_t> eos_id_;
};

}  // namespace strata::tokenizer
