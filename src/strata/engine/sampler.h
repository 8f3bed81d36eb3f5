// Sampler: one per request; turns a step's logits into the next token. Owns the request's RNG
// (mt19937_64, seeded from SamplingParams::seed or std::random_device) and token history, so the same
// seed, prompt and logits give the same tokens. Order of operations, per call of sample():
//   1. penalties (sampling_penalties.h): repetition over prompt + generated, then presence / frequency
//      over generated tokens only;
//   2. log-probabilities: log-softmax of the penalised logits, before temperature and filters (like
//      vLLM's default, plus penalties), for the chosen token and the top `logprobs` alternatives;
//   3. greedy (temperature < kGreedyTemperature): argmax, lowest id on ties, RNG untouched;
//      otherwise: divide by temperature, then top-k, top-p, min-p (sampling_filters.h), then draw.
//   4. the chosen token joins the history.
#pragma once

#include <cstdint>
#include <optional>
#include <random>
#include <span>
#include <vector>

#include "strata/engine/sampling_filters.h"
#include "strata/engine/sampling_params.h"
#include "strata/engine/sampling_penalties.h"

namespace strata::engine {

struct TokenLogprob {
  int32_t token_id;
  float logprob;
};

struct SampleResult {
  int32_t token_id = -1;
  float logprob = 0.0f;                    // of token_id, see step 2 above
  std::vector<TokenLogprob> top_logprobs;  // the params.logprobs most likely, in rank order
};

class Sampler {
 public:
  // Validates `params` and the prompt's token ids (throws strata::Error).
  Sampler(SamplingParams params, std::span<const int32_t> prompt_tokens);

  // Throws strata::Error if logits are empty, hold NaN or +inf, are all -inf, or if a token of the
  // history does not fit the vocabulary (logits.size()).
  SampleResult sample(std::span<const float> logits);

  // Records a token chosen outside sample() (a forced or accepted draft token) for the penalties.
  void observe(int32_t token_id) { history_.add_generated(token_id); }

  // The device sampler's half of sample() (engine/device_sampler.h runs steps 1-3 on the GPU).
  // peek_draw(): the uniform number in [0, 1) that sample() would draw for this step, or nullopt when
  // greedy (sample() draws none); the RNG is left as it is, so a step the device rejects (bad logits)
  // leaves the sampler as a throwing sample() would. accept(): records the token the device chose
  // with that number as step 4 does, advancing the RNG past the one draw sample() would have made.
  std::optional<double> peek_draw() const;
  void accept(int32_t token_id);

  // The seed actually used, to reproduce a run that asked for none.
  uint64_t seed() const { return seed_; }
  const SamplingParams& params() const { return params_; }
  const TokenHistory& history() const { return history_; }

 private:
  int32_t draw(std::span<const float> penalised);
  int32_t draw_dense();
  double uniform01();

  SamplingParams params_;
  uint64_t seed_;
  std::mt19937_64 rng_;
  TokenHistory history_;
  // Per-step buffers kept across calls: vocab-sized, so allocated once.
  std::vector<float> penalised_;
  std::vector<float> scaled_;
  std::vector<Candidate> candidates_;
  std::vector<int32_t> top_ids_;
  std::vector<double> block_sums_;
  SelectionScratch scratch_;
};

}  // namespace strata::engine
