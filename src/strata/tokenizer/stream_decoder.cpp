#include "strata/tokenizer/stream_decoder.h"

#include "strata/tokenizer/utf8.h"

namespace strata::tokenizer {

StreamDecoder::StreamDecoder(const Tokenizer& tokenizer, bool skip_special_tokens)
    : tokenizer_(tokenizer), skip_special_tokens_(skip_special_tokens) {}

std::string StreamDecoder::push(int32_t id) {
  if (tokenizer_.append_token_bytes(id, skip_special_tokens_, first_, pending_)) first_ = false;
  // Lossy repair of a prefix that ends on a character boundary gives the same text the full decode
  // gives for those bytes: the repair never looks past a complete character or an invalid byte.
  const size_t ready = utf8_emittable_prefix(pending_);
  std::string text = utf8_lossy(std::string_view(pending_).substr(0, ready));
  pending_.erase(0, ready);
  return text;
}

std::string StreamDecoder::flush() {
  std::string text = utf8_lossy(pending_);
  pending_.clear();
  first_ = true;
  return text;
}

}  // namespace strata::tokenizer
