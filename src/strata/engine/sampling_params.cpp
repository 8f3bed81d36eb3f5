#include "strata/engine/sampling_params.h"

#include <cmath>

#include "strata/core/error.h"

namespace strata::engine {

// Comparisons are written so that NaN fails them: `!(x >= 0)` rejects NaN as well as negatives.
void SamplingParams::validate() const {
  if (!(temperature >= 0.0f) || !std::isfinite(temperature))
    fail("sampling parameter temperature must be a finite number >= 0 (0 = greedy), got {}",
         temperature);
  if (top_k < 0)
    fail("sampling parameter top_k must be >= 0 (0 = off), got {}", top_k);
  if (!(top_p > 0.0f && top_p <= 1.0f))
    fail("sampling parameter top_p must be in (0, 1] (1 = off), got {}", top_p);
  if (!(min_p >= 0.0f && min_p <= 1.0f))
    fail("sampling parameter min_p must be in [0, 1] (0 = off), got {}", min_p);
  if (!(repetition_penalty > 0.0f) || !std::isfinite(repetition_penalty))
    fail("sampling parameter repetition_penalty must be a finite number > 0 (1 = off), got {}",
         repetition_penalty);
  if (!(presence_penalty >= -2.0f && presence_penalty <= 2.0f))
    fail("sampling parameter presence_penalty must be in [-2, 2] (0 = off), got {}",
         presence_penalty);
  if (!(frequency_penalty >= -2.0f && frequency_penalty <= 2.0f))
    fail("sampling parameter frequency_penalty must be in [-2, 2] (0 = off), got {}",
         frequency_penalty);
  if (max_new_tokens < 1)
    fail("sampling parameter max_new_tokens must be >= 1, got {}", max_new_tokens);
  for (int32_t id : stop_token_ids)
    if (id < 0) fail("sampling parameter stop_token_ids must hold token ids >= 0, got {}", id);
  for (size_t i = 0; i < stop_strings.size(); ++i)
    if (stop_strings[i].empty())
      fail("sampling parameter stop_strings[{}] is empty; a stop string needs at least one character",
           i);
  if (logprobs < 0 || logprobs > kMaxLogprobs)
    fail("sampling parameter logprobs must be in [0, {}] (top alternatives per token), got {}",
         kMaxLogprobs, logprobs);
}

bool SamplingParams::greedy() const { return temperature < kGreedyTemperature; }

}  // namespace strata::engine
