#include "strata/engine/sampling_penalties.h"

#include <algorithm>

#include "strata/core/error.h"

namespace strata::engine {

TokenHistory::TokenHistory(std::span<const int32_t> prompt_tokens) {
  for (int32_t id : prompt_tokens) note(id);
}

void TokenHistory::note(int32_t token_id) {
  if (token_id < 0) fail("token history: token id must be >= 0, got {}", token_id);
  seen_.insert(token_id);
  max_token_id_ = std::max(max_token_id_, token_id);
}

void TokenHistory::add_generated(int32_t token_id) {
  note(token_id);
  ++generated_counts_[token_id];
  ++generated_size_;
}

void apply_penalties(std::span<float> logits, const TokenHistory& history,
                     const PenaltyParams& params) {
  const float r = params.repetition_penalty;
  if (r != 1.0f) {
    for (int32_t id : history.seen()) {
      float& logit = logits[static_cast<size_t>(id)];
      // Dividing a positive logit and multiplying a negative one both make the token less likely.
      logit = logit > 0.0f ? logit / r : logit * r;
    }
  }
  if (params.presence_penalty != 0.0f || params.frequency_penalty != 0.0f) {
    for (const auto& [id, count] : history.generated_counts()) {
      logits[static_cast<size_t>(id)] -=
          params.frequency_penalty * static_cast<float>(count) + params.presence_penalty;
    }
  }
}

}  // namespace strata::engine
