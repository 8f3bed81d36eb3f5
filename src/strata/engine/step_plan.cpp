#include "strata/engine/step_plan.h"

#include <algorithm>

namespace strata::engine {

std::vector<PlannedStep> plan_step(std::span<const SequenceProgress> sequences, int64_t token_budget,
                                   int64_t prefill_chunk) {
  std::vector<PlannedStep> plan;
  int64_t remaining = token_budget;
  for (size_t i = 0; i < sequences.size(); ++i)
    if (sequences[i].fed >= sequences[i].prompt_length) {
      plan.push_back({.index = i, .length = 1, .decode = true});
      --remaining;
    }
  for (size_t i = 0; i < sequences.size() && remaining > 0; ++i) {
    const SequenceProgress& s = sequences[i];
    if (s.fed >= s.prompt_length) continue;
    const int64_t next_boundary = (s.fed / prefill_chunk + 1) * prefill_chunk;
    const int64_t end = std::min({s.prompt_length, next_boundary, s.fed + remaining});
    plan.push_back({.index = i, .length = end - s.fed, .decode = false});
    remaining -= end - s.fed;
  }
  return plan;
}

}  // namespace strata::engine
