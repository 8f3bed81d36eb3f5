// Token history and the logit penalties that read it: repetition (HF / llama.cpp style, over prompt +
// generated tokens) and presence / frequency (OpenAI style, over generated tokens only, as vLLM does).
// apply_penalties is pure over the logits span; the history only records what was seen.
#pragma once

#include <cstdint>
#include <span>
#include <unordered_map>
#include <unordered_set>

namespace strata::engine {

class TokenHistory {
 public:
  TokenHistory() = default;
  // Throws strata::Error on a negative token id.
  explicit TokenHistory(std::span<const int32_t> prompt_tokens);

  void add_generated(int32_t token_id);

  // Unique tokens of prompt + generated: the repetition penalty's domain.
  const std::unordered_set<int32_t>& seen() const { return seen_; }
  // How often each generated token occurred: the presence / frequency penalties' domain.
  const std::unordered_map<int32_t, int32_t>& generated_counts() const { return generated_counts_; }
  int64_t generated_size() const { return generated_size_; }
  // Largest token id recorded, -1 if none: lets a caller check every id fits the vocabulary at once.
  int32_t max_token_id() const { return max_token_id_; }

 private:
  void note(int32_t token_id);

  std::unordered_set<int32_t> seen_;
  std::unordered_map<int32_t, int32_t> generated_counts_;
  int64_t generated_size_ = 0;
  int32_t max_token_id_ = -1;
};

struct PenaltyParams {
  float repetition_penalty = 1.0f;
  float presence_penalty = 0.0f;
  float frequency_penalty = 0.0f;
};

// In place, in this order (vLLM's):
//   1. repetition, for each token seen in prompt + generated: logit > 0 ? logit / r : logit * r;
//   2. for each generated token with count c > 0: logit -= frequency * c + presence.
// Every token id in `history` must be < logits.size() (checked by the caller).
void apply_penalties(std::span<float> logits, const TokenHistory& history,
                     const PenaltyParams& params);

}  // namespace strata::engine
