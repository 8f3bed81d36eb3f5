// Incremental decoding for generation: ids go in one at a time, text comes out as soon as it is whole.
// Bytes of a UTF-8 character split across tokens are held back until it completes; flush() ends the
// stream (leftovers become U+FFFD). The concatenated output equals Tokenizer::decode of all the ids.
#pragma once

#include <cstdint>
#include <string>

#include "strata/tokenizer/tokenizer.h"

namespace strata::tokenizer {

class StreamDecoder {
 public:
  // `tokenizer` must outlive the decoder.
  StreamDecoder(const Tokenizer& tokenizer, bool skip_special_tokens);

  // The text that became complete with this id (often empty mid-character).
  std::string push(int32_t id);
  // The remaining text; the decoder is then ready for a new stream.
  std::string flush();

 private:
  const Tokenizer& tokenizer_;
  bool skip_special_tokens_;
  bool first_ = true;
  std::string pending_;  // bytes not yet returned
};

}  // namespace strata::tokenizer
