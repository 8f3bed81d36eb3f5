#include "strata/engine/sampling_filters.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "strata/engine/sampling_math.h"

namespace strata::engine {
namespace {

// A bounded heap beats nth_element when n is a small fraction of the vocabulary: almost every value
// is rejected by one comparison against the heap's worst element, in one streaming pass.
constexpr size_t kHeapFraction = 16;
constexpr size_t kScanBlock = 64;
// top-p buckets: 1/8 nat wide (a weight ratio of 1.13) down to 40 nats below the max, then one tail
// bucket. Past 40 nats a token's weight is < 5e-18, so the nucleus (top_p < 1 in float) never ends
// in the tail except through rounding.
constexpr float kBucketsPerNat = 8.0f;
constexpr size_t kBuckets = 320;

}  // namespace

void top_n_indices(std::span<const float> values, size_t n, std::vector<int32_t>& out,
                   std::vector<int32_t>& scratch) {
  const size_t vocab = values.size();
  n = std::min(n, vocab);
  out.clear();
  if (n == 0) return;
  // Rank order: larger value first, lower index first among equals.
  auto better = [&values](int32_t a, int32_t b) {
    const float va = values[static_cast<size_t>(a)], vb = values[static_cast<size_t>(b)];
    return va > vb || (va == vb && a < b);
  };
  if (n * kHeapFraction <= vocab) {
    // With `better` as the heap's "less", front() is the worst kept element. Later indices never
    // win a tie, so a value <= the worst kept one is out, and a whole block whose max is <= it is
    // skipped after one vectorised max.
    out.reserve(n);
    for (size_t i = 0; i < n; ++i) {
      out.push_back(static_cast<int32_t>(i));
      std::push_heap(out.begin(), out.end(), better);
    }
    float worst = values[static_cast<size_t>(out.front())];
    for (size_t block = n; block < vocab; block += kScanBlock) {
      const size_t end = std::min(block + kScanBlock, vocab);
      if (max_value(values.subspan(block, end - block)) <= worst) continue;
      for (size_t i = block; i < end; ++i) {
        if (values[i] <= worst) continue;
        std::pop_heap(out.begin(), out.end(), better);
        out.back() = static_cast<int32_t>(i);
        std::push_heap(out.begin(), out.end(), better);
        worst = values[static_cast<size_t>(out.front())];
      }
    }
    std::sort_heap(out.begin(), out.end(), better);
    return;
  }
  scratch.resize(vocab);
  std::iota(scratch.begin(), scratch.end(), 0);
  if (n < vocab) std::nth_element(scratch.begin(), scratch.begin() + static_cast<ptrdiff_t>(n),
                                  scratch.end(), better);
  out.assign(scratch.begin(), scratch.begin() + static_cast<ptrdiff_t>(n));
  std::sort(out.begin(), out.end(), better);
}

void select_candidates(std::span<const float> scaled_logits, const FilterParams& params,
                       std::vector<Candidate>& out, SelectionScratch& scratch) {
  out.clear();
  const size_t vocab = scaled_logits.size();
  if (vocab == 0) return;
  const float max_logit = max_value(scaled_logits);
  const bool use_top_k = params.top_k > 0 && static_cast<size_t>(params.top_k) < vocab;
  const bool use_top_p = params.top_p < 1.0f;
  // min-p needs no ranking: p_i >= min_p * p_max <=> weight_i >= min_p, since the max has weight 1.
  auto keep = [&params](float w) { return w > 0.0f && w >= params.min_p; };

  if (use_top_k) {
    std::vector<int32_t>& ranked = scratch.ranked;
    top_n_indices(scaled_logits, static_cast<size_t>(params.top_k), ranked, scratch.indices);
    scratch.weights.resize(ranked.size());
    double total = 0.0;  // top-p renormalises over the top-k survivors
    for (size_t j = 0; j < ranked.size(); ++j) {
      scratch.weights[j] =
          exp_nonpositive(scaled_logits[static_cast<size_t>(ranked[j])] - max_logit);
      total += scratch.weights[j];
    }
    const double nucleus = use_top_p ? static_cast<double>(params.top_p) * total : INFINITY;
    double mass_before = 0.0;
    for (size_t j = 0; j < ranked.size(); ++j) {
      // Rank order: once the nucleus is full or a weight fails min-p, every later token does too.
      const float w = scratch.weights[j];
      if (mass_before >= nucleus || !keep(w)) break;
      out.push_back({ranked[j], w});
      mass_before += w;
    }
    return;
  }

  scratch.weights.resize(vocab);
  const double total = exp_shifted(scaled_logits, max_logit, scratch.weights.data());
  const std::span<const float> weights(scratch.weights);
  if (!use_top_p) {
    for (size_t i = 0; i < vocab; ++i)
      if (keep(weights[i])) out.push_back({static_cast<int32_t>(i), weights[i]});
    return;
  }

  // Nucleus without a full sort: bucket tokens by how far below the max they are; every bucket
  // before the one where the cumulative mass reaches top_p is wholly inside the nucleus, and only
  // that boundary bucket needs ranking.
  // Bucket = floor(8 * nats below the max), capped at the tail bucket; computed branch-free in
  // one vectorised pass, then summed per bucket.
  std::vector<uint16_t>& buckets = scratch.buckets;
  buckets.resize(vocab);
  constexpr float kTail = static_cast<float>(kBuckets);
  for (size_t i = 0; i < vocab; ++i) {
    const float scaled_below = (max_logit - scaled_logits[i]) * kBucketsPerNat;  // +inf if impossible
    buckets[i] = static_cast<uint16_t>(std::min(scaled_below, kTail));
  }
  double bucket_mass[kBuckets + 1] = {};
  for (size_t i = 0; i < vocab; ++i) bucket_mass[buckets[i]] += weights[i];
  const double nucleus = static_cast<double>(params.top_p) * total;
  size_t boundary = kBuckets;  // if rounding never lets the sum reach the nucleus: the tail bucket
  double mass_before = 0.0;
  for (size_t b = 0; b <= kBuckets; ++b) {
    if (mass_before + bucket_mass[b] >= nucleus) {
      boundary = b;
      break;
    }
    mass_before += bucket_mass[b];
  }
  std::vector<int32_t>& ranked = scratch.ranked;
  ranked.clear();
  for (size_t i = 0; i < vocab; ++i) {
    const size_t b = buckets[i];
    if (b < boundary) {
      if (keep(weights[i])) out.push_back({static_cast<int32_t>(i), weights[i]});
    } else if (b == boundary) {
      ranked.push_back(static_cast<int32_t>(i));
    }
  }
  std::sort(ranked.begin(), ranked.end(), [&scaled_logits](int32_t a, int32_t b) {
    const float va = scaled_logits[static_cast<size_t>(a)];
    const float vb = scaled_logits[static_cast<size_t>(b)];
    return va > vb || (va == vb && a < b);
  });
  for (int32_t id : ranked) {
    const float w = weights[static_cast<size_t>(id)];
    if (mass_before >= nucleus || !keep(w)) break;
    out.push_back({id, w});
    mass_before += w;
  }
}

}  // namespace strata::engine
