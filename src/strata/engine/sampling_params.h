// SamplingParams: how one request turns logits into tokens and when it stops (vLLM / OpenAI names).
// validate() is the boundary check: every out-of-range field throws strata::Error naming the field,
// the accepted range and the value given. Everything downstream assumes validated params.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace strata::engine {

// The most top alternatives a request may ask log-probabilities for (OpenAI caps it at 20).
inline constexpr int kMaxLogprobs = 20;

// Temperatures below this sample greedily (vLLM uses the same cut).
inline constexpr float kGreedyTemperature = 1e-5f;

struct SamplingParams {
  // 0 = greedy (argmax, lowest token id on ties). Values below kGreedyTemperature are treated as
  // greedy too, because dividing logits by them overflows float.
  float temperature = 1.0f;
  int top_k = 0;                     // keep the k most likely tokens; 0 = off
  float top_p = 1.0f;                // nucleus: smallest set reaching this mass; 1 = off; in (0, 1]
  float min_p = 0.0f;                // drop tokens with p < min_p * p_max; 0 = off; in [0, 1]
  float repetition_penalty = 1.0f;   // HF/llama.cpp: > 0; 1 = off; prompt + generated tokens
  float presence_penalty = 0.0f;     // OpenAI: in [-2, 2]; generated tokens only
  float frequency_penalty = 0.0f;    // OpenAI: in [-2, 2]; generated tokens only
  std::optional<uint64_t> seed;      // unset: drawn from std::random_device (Sampler::seed() tells)
  int max_new_tokens = 256;          // >= 1
  std::vector<int32_t> stop_token_ids;
  std::vector<std::string> stop_strings;  // each non-empty; not included in the emitted text
  bool ignore_eos = false;           // keep generating past EOS (stop_token_ids still stop)
  int logprobs = 0;                  // top alternatives to report per token, 0..kMaxLogprobs

  // Throws strata::Error for the first out-of-range field.
  void validate() const;

  bool greedy() const;
};

}  // namespace strata::engine
