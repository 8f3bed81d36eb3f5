// Sampling: params validation, penalties, filters, greedy, temperature, seeds, logprobs, stop rules.
// Oracles are plain reference computations in double (log-softmax, full sorts, chi-square against the
// exact distribution) on constructed logits.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "strata/core/error.h"
#include "strata/engine/sampler.h"
#include "strata/engine/sampling_filters.h"
#include "strata/engine/sampling_math.h"
#include "strata/engine/sampling_params.h"
#include "strata/engine/sampling_penalties.h"
#include "strata/engine/sampling_stop.h"

namespace strata::engine {
namespace {

std::vector<float> logits_of(const std::vector<double>& probs) {
  std::vector<float> logits;
  for (double p : probs) logits.push_back(p > 0 ? static_cast<float>(std::log(p)) : -INFINITY);
  return logits;
}

std::vector<double> softmax(const std::vector<float>& logits, double temperature = 1.0) {
  double m = -INFINITY;
  for (float v : logits) m = std::max(m, v / temperature);
  std::vector<double> p;
  double sum = 0;
  for (float v : logits) sum += std::exp(v / temperature - m);
  for (float v : logits) p.push_back(std::exp(v / temperature - m) / sum);
  return p;
}

std::vector<int32_t> ids_of(const std::vector<Candidate>& candidates) {
  std::vector<int32_t> ids;
  for (const Candidate& c : candidates) ids.push_back(c.token_id);
  return ids;
}

std::vector<int32_t> candidates(const std::vector<float>& logits, FilterParams params) {
  std::vector<Candidate> out;
  SelectionScratch scratch;
  select_candidates(logits, params, out, scratch);
  std::vector<int32_t> ids = ids_of(out);
  std::sort(ids.begin(), ids.end());  // the order of candidates is unspecified
  return ids;
}

// Rank order by a full sort: the oracle for top_n_indices.
std::vector<int32_t> full_rank(const std::vector<float>& v) {
  std::vector<int32_t> ids(v.size());
  std::iota(ids.begin(), ids.end(), 0);
  std::stable_sort(ids.begin(), ids.end(), [&](int32_t a, int32_t b) { return v[a] > v[b]; });
  return ids;
}

SamplingParams seeded(uint64_t seed) {
  SamplingParams p;
  p.seed = seed;
  return p;
}

double chi_square(const std::vector<int>& counts, const std::vector<double>& probs, int n) {
  double chi = 0;
  for (size_t i = 0; i < counts.size(); ++i) {
    const double expected = probs[i] * n;
    chi += (counts[i] - expected) * (counts[i] - expected) / expected;
  }
  return chi;
}

std::vector<int> histogram(Sampler& sampler, const std::vector<float>& logits, int n) {
  std::vector<int> counts(logits.size(), 0);
  for (int i = 0; i < n; ++i) ++counts[sampler.sample(logits).token_id];
  return counts;
}

// ---- params ------------------------------------------------------------------------------------

TEST(SamplingParams, DefaultsAreValid) {
  EXPECT_NO_THROW(SamplingParams{}.validate());
  EXPECT_FALSE(SamplingParams{}.greedy());
}

TEST(SamplingParams, RejectsEachOutOfRangeFieldByName) {
  struct Case {
    const char* field;
    void (*set)(SamplingParams&);
  };
  const Case cases[] = {
      {"temperature", [](SamplingParams& p) { p.temperature = -0.1f; }},
      {"temperature", [](SamplingParams& p) { p.temperature = NAN; }},
      {"temperature", [](SamplingParams& p) { p.temperature = INFINITY; }},
      {"top_k", [](SamplingParams& p) { p.top_k = -1; }},
      {"top_p", [](SamplingParams& p) { p.top_p = 0.0f; }},
      {"top_p", [](SamplingParams& p) { p.top_p = 1.5f; }},
      {"top_p", [](SamplingParams& p) { p.top_p = NAN; }},
      {"min_p", [](SamplingParams& p) { p.min_p = -0.01f; }},
      {"min_p", [](SamplingParams& p) { p.min_p = 1.01f; }},
      {"repetition_penalty", [](SamplingParams& p) { p.repetition_penalty = 0.0f; }},
      {"repetition_penalty", [](SamplingParams& p) { p.repetition_penalty = -1.0f; }},
      {"presence_penalty", [](SamplingParams& p) { p.presence_penalty = 2.5f; }},
      {"frequency_penalty", [](SamplingParams& p) { p.frequency_penalty = -3.0f; }},
      {"max_new_tokens", [](SamplingParams& p) { p.max_new_tokens = 0; }},
      {"stop_token_ids", [](SamplingParams& p) { p.stop_token_ids = {3, -1}; }},
      {"stop_strings[1]", [](SamplingParams& p) { p.stop_strings = {"x", ""}; }},
      {"logprobs", [](SamplingParams& p) { p.logprobs = 21; }},
      {"logprobs", [](SamplingParams& p) { p.logprobs = -1; }},
  };
  for (const Case& c : cases) {
    SamplingParams p;
    c.set(p);
    try {
      p.validate();
      ADD_FAILURE() << c.field << ": accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(c.field), std::string::npos) << e.what();
    }
    EXPECT_THROW(Sampler(p, {}), Error) << c.field;
  }
  SamplingParams edge;  // the inclusive ends of each range are fine
  edge.temperature = 0;
  edge.top_p = 1;
  edge.min_p = 1;
  edge.presence_penalty = -2;
  edge.frequency_penalty = 2;
  edge.logprobs = kMaxLogprobs;
  EXPECT_NO_THROW(edge.validate());
  EXPECT_TRUE(edge.greedy());
}

// ---- penalties -----------------------------------------------------------------------------------

TEST(SamplingPenalties, ChangeLogitsExactlyAsSpecified) {
  const int32_t prompt[] = {0, 1, 1};
  TokenHistory history(prompt);
  for (int32_t id : {3, 3, 0}) history.add_generated(id);
  std::vector<float> logits = {2.0f, -2.0f, 0.5f, 1.0f, 3.0f};
  apply_penalties(logits, history, {2.0f, 0.25f, 0.5f});
  // Repetition over prompt + generated {0, 1, 3}: 2 / 2, -2 * 2, 1 / 2; then presence + frequency
  // over generated only: token 0 (count 1) -0.75, token 3 (count 2) -1.25; token 1 (prompt only)
  // and tokens 2, 4 (never seen) are not touched by those.
  EXPECT_FLOAT_EQ(logits[0], 1.0f - 0.75f);
  EXPECT_FLOAT_EQ(logits[1], -4.0f);
  EXPECT_FLOAT_EQ(logits[2], 0.5f);
  EXPECT_FLOAT_EQ(logits[3], 0.5f - 1.25f);
  EXPECT_FLOAT_EQ(logits[4], 3.0f);
  EXPECT_EQ(history.generated_size(), 3);
  EXPECT_EQ(history.max_token_id(), 3);
}

TEST(SamplingPenalties, NeutralValuesLeaveLogitsUntouched) {
  const int32_t prompt[] = {0, 1, 2};
  TokenHistory history(prompt);
  history.add_generated(2);
  std::vector<float> logits = {2.0f, -2.0f, 0.5f};
  const std::vector<float> before = logits;
  apply_penalties(logits, history, {});
  EXPECT_EQ(logits, before);
}

TEST(SamplingPenalties, NegativeTokenIdIsRejected) {
  const int32_t prompt[] = {4, -2};
  EXPECT_THROW(TokenHistory{prompt}, Error);
}

TEST(Sampler, PenaltiesSteerGreedyAndShowInLogprobs) {
  SamplingParams p;
  p.temperature = 0;
  p.repetition_penalty = 4.0f;
  p.frequency_penalty = 0.5f;
  p.logprobs = 3;
  const int32_t prompt[] = {0};
  Sampler sampler(p, prompt);
  const std::vector<float> logits = {4.0f, 3.0f, 1.5f};
  // Step 1: token 0 seen in prompt: 4 / 4 = 1 < 3, so token 1 wins.
  SampleResult r = sampler.sample(logits);
  EXPECT_EQ(r.token_id, 1);
  // Step 2: token 1 generated once: 3 / 4 - 0.5 = 0.25; token 0 stays 1; token 2 (1.5) wins.
  r = sampler.sample(logits);
  EXPECT_EQ(r.token_id, 2);
  const std::vector<float> penalised = {1.0f, 0.25f, 1.5f};
  const std::vector<double> p_ref = softmax(penalised);
  ASSERT_EQ(r.top_logprobs.size(), 3u);
  const int32_t rank[] = {2, 0, 1};
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(r.top_logprobs[i].token_id, rank[i]);
    EXPECT_NEAR(r.top_logprobs[i].logprob, std::log(p_ref[rank[i]]), 1e-5);
  }
  EXPECT_NEAR(r.logprob, std::log(p_ref[2]), 1e-5);
}

// ---- filters -----------------------------------------------------------------------------------

TEST(SamplingFilters, TopNMatchesFullSortOnBothPaths) {
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> level(-50, 50);  // coarse values: many ties
  std::vector<float> v(5000);
  for (float& x : v) x = static_cast<float>(level(rng)) * 0.25f;
  v[17] = -INFINITY;
  const std::vector<int32_t> oracle = full_rank(v);
  std::vector<int32_t> out, scratch;
  for (size_t n : {size_t{1}, size_t{7}, size_t{300}, size_t{4000}, size_t{5000}, size_t{9000}}) {
    top_n_indices(v, n, out, scratch);
    const size_t expect_n = std::min(n, v.size());
    ASSERT_EQ(out.size(), expect_n) << n;
    EXPECT_TRUE(std::equal(out.begin(), out.end(), oracle.begin())) << n;
  }
}

TEST(SamplingFilters, TopKKeepsExactlyTheKMostLikelyLowestIdOnTies) {
  const std::vector<float> logits = {0.5f, 2.0f, 1.0f, 2.0f, 1.0f, -1.0f};
  EXPECT_EQ(candidates(logits, {1, 1, 0}), (std::vector<int32_t>{1}));
  EXPECT_EQ(candidates(logits, {3, 1, 0}), (std::vector<int32_t>{1, 2, 3}));
  EXPECT_EQ(candidates(logits, {6, 1, 0}), (std::vector<int32_t>{0, 1, 2, 3, 4, 5}));  // = off
  EXPECT_EQ(candidates(logits, {0, 1, 0}), (std::vector<int32_t>{0, 1, 2, 3, 4, 5}));
}

TEST(SamplingFilters, TopPKeepsSmallestSetReachingTheMass) {
  const std::vector<float> logits = logits_of({0.05, 0.4, 0.25, 0.2, 0.1});
  EXPECT_EQ(candidates(logits, {0, 0.3f, 0}), (std::vector<int32_t>{1}));
  EXPECT_EQ(candidates(logits, {0, 0.6f, 0}), (std::vector<int32_t>{1, 2}));
  EXPECT_EQ(candidates(logits, {0, 0.66f, 0}), (std::vector<int32_t>{1, 2, 3}));
  EXPECT_EQ(candidates(logits, {0, 0.9f, 0}), (std::vector<int32_t>{1, 2, 3, 4}));
  EXPECT_EQ(candidates(logits, {0, 0.97f, 0}), (std::vector<int32_t>{0, 1, 2, 3, 4}));
  // A tiny top_p still keeps the most likely token.
  EXPECT_EQ(candidates(logits, {0, 1e-6f, 0}), (std::vector<int32_t>{1}));
  // Ties at the edge of the nucleus go to the lowest ids, as in top-k and greedy.
  const std::vector<float> flat(6, 0.25f);
  EXPECT_EQ(candidates(flat, {0, 0.4f, 0}), (std::vector<int32_t>{0, 1, 2}));
  EXPECT_EQ(candidates(flat, {3, 0.4f, 0}), (std::vector<int32_t>{0, 1}));
  // With min-p on top: the intersection of the nucleus and the min-p set.
  EXPECT_EQ(candidates(logits, {0, 0.9f, 0.55f}), (std::vector<int32_t>{1, 2}));
}

TEST(SamplingFilters, TopPAppliesToTheTopKRenormalisedDistribution) {
  const std::vector<float> logits = logits_of({0.4, 0.3, 0.2, 0.1});
  // Alone, top_p 0.5 needs 0.4 + 0.3; after top_k 2 the mass is 4/7 + 3/7 and 4/7 > 0.5 suffices.
  EXPECT_EQ(candidates(logits, {0, 0.5f, 0}), (std::vector<int32_t>{0, 1}));
  EXPECT_EQ(candidates(logits, {2, 0.5f, 0}), (std::vector<int32_t>{0}));
  EXPECT_EQ(candidates(logits, {3, 0.8f, 0}), (std::vector<int32_t>{0, 1, 2}));
  // 0.4 + 0.3 < 0.75 of the whole, but 4/9 + 3/9 >= 0.75 of the top-3 mass.
  EXPECT_EQ(candidates(logits, {3, 0.75f, 0}), (std::vector<int32_t>{0, 1}));
}

// The nucleus by a full sort of the vocabulary.
std::vector<int32_t> nucleus_oracle(const std::vector<float>& logits, float top_p) {
  const std::vector<int32_t> rank = full_rank(logits);
  const double m = logits[rank[0]];
  double total = 0;
  for (float x : logits) total += std::exp(x - m);
  std::vector<int32_t> kept;
  double mass = 0;
  for (int32_t id : rank) {
    if (mass >= top_p * total) break;
    kept.push_back(id);
    mass += std::exp(logits[id] - m);
  }
  std::sort(kept.begin(), kept.end());
  return kept;
}

TEST(SamplingFilters, TopPOnLargeVocabulariesMatchesTheFullSortOracle) {
  std::mt19937 rng(11);
  // Flat: the nucleus holds most of the vocabulary, spread over few buckets.
  std::uniform_real_distribution<float> u(0.0f, 2.0f);
  std::vector<float> flat(20000);
  for (float& x : flat) x = u(rng);
  const std::vector<int32_t> wide = nucleus_oracle(flat, 0.9f);
  ASSERT_GT(wide.size(), 10000u);
  EXPECT_EQ(candidates(flat, {0, 0.9f, 0}), wide);
  // Spread over many buckets, as real logits are; several nucleus sizes.
  std::normal_distribution<float> normal(0.0f, 3.0f);
  std::vector<float> spread(20000);
  for (float& x : spread) x = normal(rng);
  for (float top_p : {0.1f, 0.5f, 0.9f, 0.999f}) {
    const std::vector<int32_t> expected = nucleus_oracle(spread, top_p);
    EXPECT_EQ(candidates(spread, {0, top_p, 0}), expected) << top_p;
  }
}

TEST(SamplingFilters, MinPDropsTokensBelowTheFractionOfTheMax) {
  const std::vector<float> logits = logits_of({0.5, 0.2, 0.1, 0.04, 0.16});
  // Threshold 0.3 * 0.5 = 0.15.
  std::vector<int32_t> kept = candidates(logits, {0, 1, 0.3f});  // threshold path
  EXPECT_EQ(kept, (std::vector<int32_t>{0, 1, 4}));
  EXPECT_EQ(candidates(logits, {4, 1, 0.3f}), (std::vector<int32_t>{0, 1, 4}));  // top-k path
  EXPECT_EQ(candidates(logits, {0, 1, 1.0f}), (std::vector<int32_t>{0}));
  EXPECT_EQ(candidates(logits, {0, 1, 0.0f}), (std::vector<int32_t>{0, 1, 2, 3, 4}));
}

TEST(SamplingFilters, ImpossibleTokensAreNeverCandidates) {
  const std::vector<float> logits = {-INFINITY, 1.0f, -INFINITY, 0.0f};
  EXPECT_EQ(candidates(logits, {}), (std::vector<int32_t>{1, 3}));
  EXPECT_EQ(candidates(logits, {4, 1, 0}), (std::vector<int32_t>{1, 3}));
  EXPECT_EQ(candidates(logits, {0, 0.999f, 0}), (std::vector<int32_t>{1, 3}));
}

TEST(SamplingMath, ExpMatchesLibmAndIsExactlyZeroWhereImpossible) {
  double worst = 0;
  for (float x = -86.9f; x <= 0.0f; x += 0.0137f) {
    const double ref = std::exp(static_cast<double>(x));
    worst = std::max(worst, std::abs(exp_nonpositive(x) - ref) / ref);
  }
  EXPECT_LT(worst, 3e-7);
  EXPECT_EQ(exp_nonpositive(0.0f), 1.0f);
  EXPECT_EQ(exp_nonpositive(-100.0f), 0.0f);
  EXPECT_EQ(exp_nonpositive(-INFINITY), 0.0f);
  // The vector loops (16 lanes, float sums flushed per chunk, a tail) agree with the scalar
  // function; their sums are float-accurate.
  std::vector<float> in(3001), out(3001);
  for (size_t i = 0; i < in.size(); ++i) in[i] = -static_cast<float>(i % 50) * 0.3f;
  in[5] = -INFINITY;
  double sum = 0;
  for (float x : in) sum += exp_nonpositive(x - 0.5f);
  EXPECT_NEAR(exp_shifted(in, 0.5f, out.data()), sum, sum * 1e-6);
  EXPECT_NEAR(sum_exp_shifted(in, 0.5f), sum, sum * 1e-6);
  EXPECT_NEAR(sum_of(out), sum, sum * 1e-12);
  for (size_t i = 0; i < in.size(); ++i) EXPECT_EQ(out[i], exp_nonpositive(in[i] - 0.5f));
  EXPECT_EQ(max_value(in), 0.0f);
  EXPECT_EQ(max_value(std::vector<float>(20, -INFINITY)), -INFINITY);
  EXPECT_TRUE(all_below_infinity(in));
  in[2999] = INFINITY;
  EXPECT_FALSE(all_below_infinity(in));
  in[2999] = NAN;
  EXPECT_FALSE(all_below_infinity(in));
}

// ---- sampling ----------------------------------------------------------------------------------

TEST(Sampler, GreedyTakesArgmaxLowestIdOnTiesAndIgnoresTheSeed) {
  const std::vector<float> logits = {1.0f, 3.0f, -2.0f, 3.0f, 2.9f};
  for (uint64_t seed : {1u, 2u, 3u}) {
    SamplingParams p = seeded(seed);
    p.temperature = 0;
    p.top_k = 2;  // irrelevant when greedy
    Sampler sampler(p, {});
    for (int i = 0; i < 5; ++i) EXPECT_EQ(sampler.sample(logits).token_id, 1);
  }
  SamplingParams tiny = seeded(4);
  tiny.temperature = kGreedyTemperature / 2;
  Sampler sampler(tiny, {});
  EXPECT_EQ(sampler.sample(logits).token_id, 1);
}

TEST(Sampler, TemperatureScalesEmpiricalFrequencies) {
  const std::vector<float> logits = logits_of({0.5, 0.25, 0.15, 0.1});
  const int n = 20000;
  // chi-square with 3 degrees of freedom: P(chi > 16.27) = 0.001 under the right distribution.
  const double bound = 16.27;
  for (double temperature : {0.5, 1.0, 2.0}) {
    SamplingParams p = seeded(1234);
    p.temperature = static_cast<float>(temperature);
    Sampler sampler(p, {});
    const std::vector<int> counts = histogram(sampler, logits, n);
    EXPECT_LT(chi_square(counts, softmax(logits, temperature), n), bound) << temperature;
    if (temperature != 1.0) {  // and the unscaled distribution is firmly rejected
      EXPECT_GT(chi_square(counts, softmax(logits, 1.0), n), 100.0) << temperature;
    }
  }
}

TEST(Sampler, FilteredSamplingMatchesTheRenormalisedDistribution) {
  const std::vector<float> logits = logits_of({0.05, 0.4, 0.25, 0.2, 0.1});
  SamplingParams p = seeded(99);
  p.top_p = 0.66f;  // keeps {1, 2, 3}
  Sampler sampler(p, {});
  const int n = 12000;
  const std::vector<int> counts = histogram(sampler, logits, n);
  EXPECT_EQ(counts[0], 0);
  EXPECT_EQ(counts[4], 0);
  const std::vector<int> kept = {counts[1], counts[2], counts[3]};
  EXPECT_LT(chi_square(kept, {0.4 / 0.85, 0.25 / 0.85, 0.2 / 0.85}, n), 13.82);  // 2 dof, p=0.001
}

TEST(Sampler, TopKAndMinPNeverDrawExcludedTokens) {
  std::vector<float> logits(1000);
  std::mt19937 rng(5);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (float& x : logits) x = normal(rng);
  const std::vector<int32_t> rank = full_rank(logits);
  SamplingParams p = seeded(8);
  p.top_k = 5;
  p.temperature = 5.0f;  // flat enough that all five show up
  Sampler sampler(p, {});
  std::map<int32_t, int> seen;
  for (int i = 0; i < 2000; ++i) ++seen[sampler.sample(logits).token_id];
  ASSERT_EQ(seen.size(), 5u);
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(seen.count(rank[i])) << rank[i];

  SamplingParams q = seeded(9);
  q.min_p = 0.5f;
  Sampler min_p_sampler(q, {});
  const float cut = logits[rank[0]] + std::log(0.5f);
  for (int i = 0; i < 2000; ++i) {
    EXPECT_GE(logits[min_p_sampler.sample(logits).token_id], cut);
  }
}

TEST(Sampler, SameSeedSameTokensDifferentSeedDifferentTokens) {
  std::vector<float> logits(4096);
  std::mt19937 rng(3);
  std::normal_distribution<float> normal(0.0f, 2.0f);
  for (float& x : logits) x = normal(rng);
  auto run = [&](SamplingParams p) {
    p.top_p = 0.95f;
    Sampler sampler(p, {});
    std::vector<int32_t> tokens;
    for (int i = 0; i < 64; ++i) tokens.push_back(sampler.sample(logits).token_id);
    return std::make_pair(tokens, sampler.seed());
  };
  EXPECT_EQ(run(seeded(42)).first, run(seeded(42)).first);
  EXPECT_NE(run(seeded(42)).first, run(seeded(43)).first);
  // Without a seed, the seed reported reproduces the run.
  const auto [tokens, seed] = run(SamplingParams{});
  EXPECT_EQ(run(seeded(seed)).first, tokens);
}

TEST(Sampler, LogprobsAreTheLogSoftmaxOfTheLogits) {
  const std::vector<float> logits = {0.3f, 2.0f, -1.0f, 2.0f, 0.7f, -INFINITY};
  SamplingParams p = seeded(17);
  p.logprobs = 4;
  Sampler sampler(p, {});
  const std::vector<double> ref = softmax(logits);
  for (int i = 0; i < 10; ++i) {
    const SampleResult r = sampler.sample(logits);
    EXPECT_NEAR(r.logprob, std::log(ref[r.token_id]), 1e-5);
    ASSERT_EQ(r.top_logprobs.size(), 4u);
    const int32_t rank[] = {1, 3, 4, 0};
    for (int j = 0; j < 4; ++j) {
      EXPECT_EQ(r.top_logprobs[j].token_id, rank[j]);
      EXPECT_NEAR(r.top_logprobs[j].logprob, std::log(ref[rank[j]]), 1e-5);
    }
  }
  SamplingParams none = seeded(1);
  Sampler quiet(none, {});
  EXPECT_TRUE(quiet.sample(logits).top_logprobs.empty());
}

TEST(Sampler, HostileLogitsAreRejected) {
  const int32_t prompt[] = {7};
  Sampler sampler(seeded(1), prompt);
  EXPECT_THROW(sampler.sample(std::vector<float>{}), Error);
  EXPECT_THROW(sampler.sample(std::vector<float>(7, 0.0f)), Error);  // prompt token 7 does not fit
  std::vector<float> logits(8, 0.0f);
  logits[3] = NAN;
  EXPECT_THROW(sampler.sample(logits), Error);
  logits[3] = INFINITY;
  EXPECT_THROW(sampler.sample(logits), Error);
  EXPECT_THROW(sampler.sample(std::vector<float>(8, -INFINITY)), Error);
  EXPECT_EQ(sampler.history().generated_size(), 0);  // nothing recorded by failed calls
  logits[3] = 1.0f;
  EXPECT_EQ(sampler.sample(logits).token_id >= 0, true);
}

// ---- stop rules --------------------------------------------------------------------------------

SamplingParams stops(std::vector<std::string> strings, int max_new_tokens = 100) {
  SamplingParams p;
  p.stop_strings = std::move(strings);
  p.max_new_tokens = max_new_tokens;
  return p;
}

TEST(StopChecker, StopStringAcrossTokensIsHeldBackThenDropped) {
  StopChecker checker(stops({"END"}), {});
  StopUpdate u = checker.on_token(10, "Hello E");
  EXPECT_EQ(u.text, "Hello ");
  EXPECT_EQ(checker.held_back(), "E");
  EXPECT_FALSE(u.finished());
  u = checker.on_token(11, "N");
  EXPECT_EQ(u.text, "");
  EXPECT_EQ(checker.held_back(), "EN");
  u = checker.on_token(12, "D and more");
  EXPECT_EQ(u.reason, StopReason::stop_string);
  EXPECT_EQ(u.stop_string, "END");
  EXPECT_EQ(u.text, "");
  EXPECT_EQ(finish_reason(u.reason), "stop");
  EXPECT_THROW(checker.on_token(13, "x"), Error);
}

TEST(StopChecker, HeldTextIsReleasedOnceItCannotStartAStop) {
  StopChecker checker(stops({"END", "<|im"}), {});
  EXPECT_EQ(checker.on_token(1, "a <|").text, "a ");
  EXPECT_EQ(checker.on_token(2, "i").text, "");
  EXPECT_EQ(checker.on_token(3, "s").text, "<|is");
  EXPECT_EQ(checker.on_token(4, "EN").text, "");
  EXPECT_EQ(checker.on_token(5, "EN").text, "EN");  // "ENEN": the second EN may still start END
  EXPECT_EQ(checker.held_back(), "EN");
}

TEST(StopChecker, EarliestMatchWinsInsideOnePiece) {
  StopChecker checker(stops({"world", "lo"}), {});
  const StopUpdate u = checker.on_token(1, "hello world");
  EXPECT_EQ(u.text, "hel");
  EXPECT_EQ(u.stop_string, "lo");
}

TEST(StopChecker, EosAndStopTokensEndWithoutTheirText) {
  const int32_t eos[] = {2};
  SamplingParams p = stops({"XYZ"});
  p.stop_token_ids = {5};
  StopChecker checker(p, eos);
  EXPECT_EQ(checker.on_token(9, "ab X").text, "ab ");
  StopUpdate u = checker.on_token(2, "</s>");
  EXPECT_EQ(u.reason, StopReason::eos_token);
  EXPECT_EQ(u.stop_token_id, 2);
  EXPECT_EQ(u.text, "X");  // what was held back is flushed, the EOS text is not

  p.ignore_eos = true;
  StopChecker ignoring(p, eos);
  EXPECT_FALSE(ignoring.on_token(2, "</s>").finished());
  u = ignoring.on_token(5, "<stop>");
  EXPECT_EQ(u.reason, StopReason::stop_token);
  EXPECT_EQ(u.stop_token_id, 5);
  EXPECT_EQ(u.text, "");
}

TEST(StopChecker, MaxNewTokensFlushesHeldText) {
  StopChecker checker(stops({"END"}, 2), {});
  EXPECT_EQ(checker.on_token(1, "a E").text, "a ");
  const StopUpdate u = checker.on_token(2, "N");
  EXPECT_EQ(u.reason, StopReason::max_new_tokens);
  EXPECT_EQ(finish_reason(u.reason), "length");
  EXPECT_EQ(u.text, "EN");
  EXPECT_EQ(checker.generated_tokens(), 2);
  // A stop string completed on the last allowed token is still a stop, not a length finish.
  StopChecker last(stops({"END"}, 1), {});
  EXPECT_EQ(last.on_token(1, "xEND").reason, StopReason::stop_string);
}

TEST(StopChecker, RandomStreamsMatchTheWholeTextOracle) {
  // Whatever way the text is cut into tokens, the emitted text is the text up to the earliest match
  // present when a stop string first completes; and nothing is emitted that is later withdrawn.
  std::mt19937 rng(21);
  const std::vector<std::string> stop_strings = {"abca", "cc", "bab"};
  std::uniform_int_distribution<int> letter(0, 2), piece_length(0, 3);
  for (int trial = 0; trial < 300; ++trial) {
    StopChecker checker(stops(stop_strings), {});
    std::string whole, emitted, expected;
    bool stopped = false;
    for (int t = 0; t < 30 && !stopped; ++t) {
      std::string piece;
      for (int n = piece_length(rng); n > 0; --n) piece.push_back(static_cast<char>('a' + letter(rng)));
      whole += piece;
      const StopUpdate u = checker.on_token(t, piece);
      emitted += u.text;
      size_t first = std::string::npos;
      for (const std::string& s : stop_strings) first = std::min(first, whole.find(s));
      if (first != std::string::npos) {
        expected = whole.substr(0, first);
        stopped = true;
        EXPECT_EQ(u.reason, StopReason::stop_string);
      } else {
        EXPECT_FALSE(u.finished());
        EXPECT_EQ(emitted + checker.held_back(), whole);
      }
    }
    if (stopped) {
      EXPECT_EQ(emitted, expected) << whole;
    }
  }
}

}  // namespace
}  // namespace strata::engine
