// StopChecker: one per request; decides when generation ends and how much detokenised text may be
// streamed. Checks, per generated token, in vLLM's order: EOS (unless ignore_eos), stop_token_ids,
// stop strings (which may span several tokens), then max_new_tokens. Text that could still become the
// start of a stop string is held back until the next token disambiguates it.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "strata/engine/sampling_params.h"

namespace strata::engine {

enum class StopReason {
  none,            // still generating
  eos_token,       // the model's end-of-sequence token
  stop_token,      // one of SamplingParams::stop_token_ids
  stop_string,     // one of SamplingParams::stop_strings appeared in the text
  max_new_tokens,  // the length limit
};

// OpenAI's finish_reason: "stop" for the first three reasons, "length" for max_new_tokens, "" for none.
std::string_view finish_reason(StopReason reason);

struct StopUpdate {
  std::string text;                // newly safe to emit (never includes stop strings or stop tokens)
  StopReason reason = StopReason::none;
  int32_t stop_token_id = -1;      // set for eos_token and stop_token
  std::string stop_string;         // set for stop_string
  bool finished() const { return reason != StopReason::none; }
};

class StopChecker {
 public:
  // `params` must be validated. `eos_token_ids` come from the model / tokenizer config.
  StopChecker(const SamplingParams& params, std::span<const int32_t> eos_token_ids);

  // Feeds one generated token and its detokenised text piece (already whole UTF-8 characters).
  // Text of EOS and stop tokens is not emitted. When the update finishes the request, everything
  // still held back (other than a matched stop string and what follows it) is in update.text.
  // Throws strata::Error if called after the request finished.
  StopUpdate on_token(int32_t token_id, std::string_view text_piece);

  bool finished() const { return finished_; }
  int generated_tokens() const { return generated_tokens_; }
  // Text received but not yet emitted: a possible prefix of a stop string.
  const std::string& held_back() const { return pending_; }

 private:
  StopUpdate finish(StopReason reason);
  // Length of the longest suffix of pending_ that is a proper prefix of some stop string.
  size_t possible_stop_prefix() const;

  std::vector<int32_t> eos_token_ids_;
  std::vector<int32_t> stop_token_ids_;
  std::vector<std::string> stop_strings_;
  int max_new_tokens_;
  int generated_tokens_ = 0;
  bool finished_ = false;
  std::string pending_;
};

}  // namespace strata::engine
