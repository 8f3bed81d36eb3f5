#include "strata/engine/sampler.h"

#include <algorithm>
#include <cmath>

#include "strata/core/error.h"
#include "strata/engine/sampling_math.h"

namespace strata::engine {
namespace {

// Weights per block of the dense draw's first level.
constexpr size_t kDrawBlock = 256;

uint64_t resolve_seed(const std::optional<uint64_t>& seed) {
  if (seed) return *seed;
  std::random_device device;
  return (static_cast<uint64_t>(device()) << 32) ^ static_cast<uint64_t>(device());
}

const SamplingParams& validated(const SamplingParams& params) {
  params.validate();
  return params;
}

}  // namespace

Sampler::Sampler(SamplingParams params, std::span<const int32_t> prompt_tokens)
    : params_(validated(params)),
      seed_(resolve_seed(params_.seed)),
      rng_(seed_),
      history_(prompt_tokens) {}

namespace {

// 53 random bits -> [0, 1) exactly; unlike std::uniform_real_distribution this is the same sequence
// on every standard library.
double unit_interval(uint64_t bits) { return static_cast<double>(bits >> 11) * 0x1.0p-53; }

}  // namespace

double Sampler::uniform01() { return unit_interval(rng_()); }

std::optional<double> Sampler::peek_draw() const {
  if (params_.greedy()) return std::nullopt;
  std::mt19937_64 ahead = rng_;  // 2.5 KB of state: cheap next to a step
  return unit_interval(ahead());
}

void Sampler::accept(int32_t token_id) {
  if (!params_.greedy()) rng_.discard(1);
  history_.add_generated(token_id);
}

SampleResult Sampler::sample(std::span<const float> logits) {
  const size_t vocab = logits.size();
  if (vocab == 0) fail("sampler: logits are empty; expected one value per vocabulary token");
  if (static_cast<size_t>(history_.max_token_id() + 1) > vocab)
    fail("sampler: token id {} in the request's history does not fit the vocabulary of {} logits",
         history_.max_token_id(), vocab);

  penalised_.assign(logits.begin(), logits.end());
  apply_penalties(penalised_, history_,
                  {params_.repetition_penalty, params_.presence_penalty, params_.frequency_penalty});

  if (!all_below_infinity(penalised_)) {
    const auto bad = std::find_if(penalised_.begin(), penalised_.end(),
                                  [](float v) { return !(v < INFINITY); });
    fail("sampler: logit of token {} is {}; logits must be finite or -inf",
         bad - penalised_.begin(), *bad);
  }
  const float max_logit = max_value(penalised_);
  if (max_logit == -INFINITY) fail("sampler: every one of the {} logits is -inf", vocab);

  const double sum = sum_exp_shifted(penalised_, max_logit);
  const float log_normaliser = max_logit + static_cast<float>(std::log(sum));

  SampleResult result;
  if (params_.greedy()) {
    // The first maximum: lowest id on ties.
    const auto argmax = std::find(penalised_.begin(), penalised_.end(), max_logit);
    result.token_id = static_cast<int32_t>(argmax - penalised_.begin());
  } else {
    result.token_id = draw(penalised_);
  }
  result.logprob = penalised_[static_cast<size_t>(result.token_id)] - log_normaliser;
  if (params_.logprobs > 0) {
    top_n_indices(penalised_, static_cast<size_t>(params_.logprobs), top_ids_, scratch_.indices);
    result.top_logprobs.reserve(top_ids_.size());
    for (int32_t id : top_ids_)
      result.top_logprobs.push_back({id, penalised_[static_cast<size_t>(id)] - log_normaliser});
  }
  history_.add_generated(result.token_id);
  return result;
}

int32_t Sampler::draw(std::span<const float> penalised) {
  const float inverse_temperature = 1.0f / params_.temperature;
  scaled_.resize(penalised.size());
  for (size_t i = 0; i < penalised.size(); ++i) scaled_[i] = penalised[i] * inverse_temperature;
  const bool dense = (params_.top_k == 0 || static_cast<size_t>(params_.top_k) >= scaled_.size()) &&
                     params_.top_p >= 1.0f;
  if (dense) return draw_dense();

  select_candidates(scaled_, {params_.top_k, params_.top_p, params_.min_p}, candidates_, scratch_);
  double total = 0.0;
  for (const Candidate& c : candidates_) total += c.weight;
  const double target = uniform01() * total;
  double mass = 0.0;
  for (const Candidate& c : candidates_) {
    mass += c.weight;
    if (target < mass) return c.token_id;
  }
  // Rounding left the target at the very top: the last candidate owns that edge.
  return candidates_.back().token_id;
}

int32_t Sampler::draw_dense() {
  // Most of the vocabulary stays in play, so no candidate list: weights in place, min-p as a
  // threshold (p_i >= min_p * p_max <=> weight_i >= min_p), and a two-level walk over block sums.
  std::vector<float>& weights = scratch_.weights;
  weights.resize(scaled_.size());
  exp_shifted(scaled_, max_value(scaled_), weights.data());
  if (params_.min_p > 0.0f) {
    const float min_p = params_.min_p;
    for (float& w : weights) w = w >= min_p ? w : 0.0f;
  }
  const size_t n_blocks = (weights.size() + kDrawBlock - 1) / kDrawBlock;
  block_sums_.resize(n_blocks);
  double total = 0.0;
  for (size_t b = 0; b < n_blocks; ++b) {
    const size_t begin = b * kDrawBlock;
    block_sums_[b] = sum_of(std::span<const float>(weights).subspan(
        begin, std::min(kDrawBlock, weights.size() - begin)));
    total += block_sums_[b];
  }
  const double target = uniform01() * total;
  double mass = 0.0;
  size_t last_positive = 0;
  for (size_t b = 0; b < n_blocks; ++b) {
    if (block_sums_[b] <= 0.0) continue;
    const size_t begin = b * kDrawBlock, end = std::min(begin + kDrawBlock, weights.size());
    if (target >= mass + block_sums_[b] && b + 1 < n_blocks) {
      mass += block_sums_[b];
      last_positive = b;
      continue;
    }
    for (size_t i = begin; i < end; ++i) {
      mass += weights[i];
      if (target < mass && weights[i] > 0.0f) return static_cast<int32_t>(i);
    }
    last_positive = b;
  }
  // Rounding left the target at the very top: the last token of positive weight owns that edge.
  const size_t begin = last_positive * kDrawBlock;
  for (size_t i = std::min(begin + kDrawBlock, weights.size()); i > begin; --i)
    if (weights[i - 1] > 0.0f) return static_cast<int32_t>(i - 1);
  return static_cast<int32_t>(std::find(penalised_.begin(), penalised_.end(), max_value(penalised_)) -
                              penalised_.begin());
}

}  // namespace strata::engine
