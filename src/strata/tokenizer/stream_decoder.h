// Incremental decoding for generation: ids go in one at a time, text comes out as soon as it is final.
// Held back until later ids settle it: the bytes of a UTF-8 character split across tokens, a run of
// byte-fallback tokens (a later invalid byte turns the whole run into U+FFFD), trailing characters a
// Strip step may still remove. flush() ends the stream. What push() returns is always a prefix of the
// decode of the ids so far, and the concatenated output equals Tokenizer::decode of all the ids.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "strata/tokenizer/tokenizer.h"

namespace strata::tokenizer {

class StreamDecoder {
 public:
  // `tokenizer` must outlive the decoder.
  StreamDecoder(const Tokenizer& tokenizer, bool skip_special_tokens);

  // The text that became final with this id (often empty mid-character).
  std::string push(int32_t id);
  // The remaining text; the decoder is then ready for a new stream.
  std::string flush();

 private:
  // How the decoder's steps stream: those before the first joining step (Fuse, ByteLevel) work on a
  // window of tokens that no byte-fallback run crosses; the joining step and those after it (which
  // must work on a growing text piece by piece: Fuse, Strip, Metaspace, a one-character Replace) on
  // the concatenation. A decoder that does not fit (no hub file seen so far) gives all text at flush().
  struct StripState {
    size_t stripped = 0;  // leading characters removed so far
    bool leading_done = false;
    std::string held;  // trailing `content` characters that may still be stripped
  };
  std::string decode_window(bool end_of_stream);
  std::string feed_joined(std::vector<std::string> tokens, bool end_of_stream);
  std::string feed_strip(size_t step, const std::string& text, bool end_of_stream);
  void reset();

  const Tokenizer& tokenizer_;
  bool skip_special_tokens_;
  size_t first_joining_ = 0;  // index of the first Fuse/ByteLevel step, or the step count
  bool streamable_ = true;
  bool first_ = true;                // no token has left the window yet
  std::vector<std::string> window_;  // tokens not yet through the steps before the joining one
  std::string pending_bytes_;        // ByteLevel: bytes of an unfinished character
  std::vector<StripState> strip_;    // one per step (used by Strip steps after the joining one)
};

}  // namespace strata::tokenizer
