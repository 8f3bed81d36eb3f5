// Candidate selection for random sampling: top-k, then top-p (nucleus, over the top-k-renormalised
// distribution, as vLLM does), then min-p (relative to the most likely token). Avoids sorting the whole
// vocabulary: top-k selects with a bounded heap or nth_element; top-p alone buckets tokens by
// log-probability and sorts only the bucket where the nucleus ends. Pure functions over caller buffers.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace strata::engine {

// A token that survived the filters, with its unnormalised probability exp(logit - max logit).
struct Candidate {
  int32_t token_id;
  float weight;
};

// Reusable buffers, so a per-request sampler allocates only while its vectors grow.
struct SelectionScratch {
  std::vector<int32_t> indices;  // nth_element's working set
  std::vector<int32_t> ranked;   // top-k survivors, or the bucket where the nucleus ends
  std::vector<float> weights;    // exp(scaled - max) over the vocabulary
  std::vector<uint16_t> buckets; // top-p's log-probability bucket per token
};

struct FilterParams {
  int top_k = 0;       // 0 or >= vocab: off
  float top_p = 1.0f;  // 1: off
  float min_p = 0.0f;  // 0: off
};

// Writes to `out` the indices of the n largest values in rank order: value descending, then index
// ascending (so ties go to the lowest id, matching greedy). n is clamped to values.size().
// Values must not be NaN.
void top_n_indices(std::span<const float> values, size_t n, std::vector<int32_t>& out,
                   std::vector<int32_t>& scratch);

// Writes to `out` the tokens of `scaled_logits` (logits already divided by the temperature; no NaN,
// not all -inf) that survive the filters, each with weight exp(scaled - max). Tokens of weight 0
// (logit -inf, or more than 87 below the max) are never candidates. The order of `out` is unspecified
// (but fixed for given input, which is what reproducible sampling needs).
void select_candidates(std::span<const float> scaled_logits, const FilterParams& params,
                       std::vector<Candidate>& out, SelectionScratch& scratch);

}  // namespace strata::engine
