// The device sampler against its oracle, the host Sampler: the same params, seed, history and logits give
// the same token (always for greedy; for draws all but the rare u that lands within rounding of a
// cumulative boundary: >= 99.9 % of them), the same log-probability and top alternatives (ids exactly,
// values to 1e-5), the same error messages for bad logits, and the same RNG and history afterwards (each
// pair of samplers runs many steps in lockstep, so a wrong accept() shows as later mismatches).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "cuda/cuda_test_support.h"
#include "strata/core/error.h"
#include "strata/engine/device_sampler.h"
#include "strata/engine/sampler.h"

namespace strata::engine {
namespace {

using strata::testing::gpu;

struct Setting {
  std::string name;
  SamplingParams params;
};

template <typename Edit>
Setting make(std::string name, Edit edit) {
  SamplingParams p;
  p.max_new_tokens = 1 << 20;
  edit(p);
  return {std::move(name), p};
}

// Every filter alone, in pairs and all together, with and without penalties and log-probabilities.
std::vector<Setting> all_settings(int64_t vocab) {
  const int big_k = static_cast<int>(std::min<int64_t>(600, vocab - 1));
  return {
      make("greedy", [](SamplingParams& p) { p.temperature = 0; }),
      make("greedy penalties logprobs", [](SamplingParams& p) {
        p.temperature = 0;
        p.repetition_penalty = 1.3f;
        p.presence_penalty = 0.5f;
        p.frequency_penalty = 0.25f;
        p.logprobs = 5;
      }),
      make("greedy below kGreedyTemperature", [](SamplingParams& p) {
        p.temperature = 5e-6f;
        p.logprobs = 20;
      }),
      make("temperature 1", [](SamplingParams& p) { p.temperature = 1.0f; }),
      make("temperature 0.7 logprobs", [](SamplingParams& p) {
        p.temperature = 0.7f;
        p.logprobs = 3;
      }),
      make("temperature 1.6", [](SamplingParams& p) { p.temperature = 1.6f; }),
      make("min_p", [](SamplingParams& p) { p.min_p = 0.05f; }),
      make("top_k 1", [](SamplingParams& p) { p.top_k = 1; }),
      make("top_k 5", [](SamplingParams& p) { p.top_k = 5; }),
      make("top_k 50 temperature 0.8", [](SamplingParams& p) {
        p.top_k = 50;
        p.temperature = 0.8f;
      }),
      make("top_k big", [big_k](SamplingParams& p) { p.top_k = big_k; }),
      make("top_k vocab - 1", [vocab](SamplingParams& p) { p.top_k = static_cast<int>(vocab - 1); }),
      make("top_k vocab (off)", [vocab](SamplingParams& p) { p.top_k = static_cast<int>(vocab); }),
      make("top_p 0.9", [](SamplingParams& p) { p.top_p = 0.9f; }),
      make("top_p 0.5 temperature 1.3", [](SamplingParams& p) {
        p.top_p = 0.5f;
        p.temperature = 1.3f;
      }),
      make("top_p 0.99", [](SamplingParams& p) { p.top_p = 0.99f; }),
      make("top_p 0.05", [](SamplingParams& p) { p.top_p = 0.05f; }),
      make("top_k 50 top_p 0.9", [](SamplingParams& p) {
        p.top_k = 50;
        p.top_p = 0.9f;
      }),
      make("top_k 40 min_p", [](SamplingParams& p) {
        p.top_k = 40;
        p.min_p = 0.1f;
      }),
      make("top_p 0.95 min_p", [](SamplingParams& p) {
        p.top_p = 0.95f;
        p.min_p = 0.02f;
      }),
      make("top_p min_p cut inside the nucleus", [](SamplingParams& p) {
        p.top_p = 0.97f;
        p.min_p = 0.3f;
        p.temperature = 1.2f;
      }),
      make("repetition only", [](SamplingParams& p) { p.repetition_penalty = 1.5f; }),
      make("presence frequency top_p logprobs", [](SamplingParams& p) {
        p.presence_penalty = 0.7f;
        p.frequency_penalty = -0.4f;
        p.top_p = 0.8f;
        p.logprobs = 3;
      }),
      make("everything", [](SamplingParams& p) {
        p.temperature = 0.8f;
        p.top_k = 100;
        p.top_p = 0.9f;
        p.min_p = 0.01f;
        p.repetition_penalty = 1.2f;
        p.presence_penalty = 0.3f;
        p.frequency_penalty = 0.2f;
        p.logprobs = 20;
      }),
  };
}

// Logits of several shapes: flat (a nucleus of thousands of tokens), peaked, on a coarse grid (ties
// everywhere), with masked (-inf) tokens and signed zeros.
std::vector<float> random_logits(int64_t vocab, int kind, std::mt19937& rng) {
  std::vector<float> logits(static_cast<size_t>(vocab));
  const float sigma = kind % 4 == 0 ? 1.0f : kind % 4 == 1 ? 3.0f : kind % 4 == 2 ? 9.0f : 2.0f;
  std::normal_distribution<float> normal(0.0f, sigma);
  for (float& v : logits) v = normal(rng);
  if (kind % 4 == 3)
    for (float& v : logits) v = std::round(v * 2.0f) / 2.0f;  // ties; -0.0f too
  if (kind % 3 == 1) {
    std::uniform_int_distribution<int64_t> pick(0, vocab - 1);
    for (int m = 0; m < static_cast<int>(vocab / 10); ++m) logits[static_cast<size_t>(pick(rng))] = -INFINITY;
  }
  return logits;
}

std::vector<int32_t> random_tokens(std::mt19937& rng, int count, int64_t vocab) {
  // From a small range too, so tokens repeat and frequency counts exceed 1.
  std::uniform_int_distribution<int32_t> any(0, static_cast<int32_t>(vocab - 1));
  std::uniform_int_distribution<int32_t> few(0, static_cast<int32_t>(std::min<int64_t>(30, vocab - 1)));
  std::vector<int32_t> out(static_cast<size_t>(count));
  for (size_t i = 0; i < out.size(); ++i) out[i] = i % 2 ? any(rng) : few(rng);
  return out;
}

bool close(float device, float host) {
  if (device == host) return true;  // -inf == -inf
  return std::fabs(device - host) <= 1e-5f * std::max(1.0f, std::fabs(host));
}

// Device logits [rows, vocab] with a padded row stride, refilled from host rows each step.
struct DeviceRows {
  Buffer buffer;
  Tensor tensor;
  int64_t stride = 0;

  DeviceRows(int64_t rows, int64_t vocab, int64_t pad) : stride(vocab + pad) {
    buffer = Buffer(static_cast<size_t>(std::max<int64_t>(1, rows * stride)) * sizeof(float), Device::cuda);
    tensor = Tensor::contiguous(buffer.data(), DType::f32, {rows, vocab}, Device::cuda);
    tensor.strides = {stride, 1};
  }
  void upload(int64_t row, const std::vector<float>& values) {
    strata::cuda::copy(static_cast<float*>(buffer.data()) + row * stride, values.data(), values.size() * sizeof(float));
  }
};

struct Pair {
  std::unique_ptr<Sampler> host, device;
};

Pair make_pair(const SamplingParams& base, uint64_t seed, std::mt19937& rng, int64_t vocab) {
  SamplingParams params = base;
  params.seed = seed;
  const std::vector<int32_t> prompt = random_tokens(rng, 40, vocab);
  Pair pair{std::make_unique<Sampler>(params, prompt), std::make_unique<Sampler>(params, prompt)};
  for (int32_t t : random_tokens(rng, 24, vocab)) {
    pair.host->observe(t);
    pair.device->observe(t);
  }
  return pair;
}

// Runs `steps` steps of every setting side by side (one device call per step, every setting a row) and
// checks every result against the host sampler's.
void compare_with_host(int64_t vocab, int steps, uint64_t seed) {
  std::mt19937 rng(static_cast<uint32_t>(seed));
  const std::vector<Setting> settings = all_settings(vocab);
  const int64_t rows = static_cast<int64_t>(settings.size());
  std::vector<Pair> pairs;
  for (int64_t r = 0; r < rows; ++r) pairs.push_back(make_pair(settings[static_cast<size_t>(r)].params, seed * 1000 + static_cast<uint64_t>(r), rng, vocab));
  std::vector<std::vector<float>> base;
  for (int64_t r = 0; r < rows; ++r) base.push_back(random_logits(vocab, static_cast<int>(r), rng));

  DeviceRows device_rows(rows + 3, vocab, 5);  // more rows than sampled, in shuffled order
  DeviceSampler sampler(*gpu());
  std::vector<int> row_of(static_cast<size_t>(rows));
  for (int64_t r = 0; r < rows; ++r) row_of[static_cast<size_t>(r)] = static_cast<int>((r * 7 + 2) % (rows + 3));
  std::sort(row_of.begin(), row_of.end());
  row_of.erase(std::unique(row_of.begin(), row_of.end()), row_of.end());
  ASSERT_EQ(row_of.size(), static_cast<size_t>(rows)) << "rows must be distinct";
  std::shuffle(row_of.begin(), row_of.end(), rng);

  int draws = 0, draw_mismatches = 0, greedy = 0;
  std::vector<int> mismatches(static_cast<size_t>(rows), 0);
  for (int step = 0; step < steps; ++step) {
    std::vector<std::vector<float>> logits(static_cast<size_t>(rows));
    std::vector<DeviceSampleJob> jobs;
    for (int64_t r = 0; r < rows; ++r) {
      // A new distribution each step without drawing V normals again: rotate and nudge the base row.
      const std::vector<float>& b = base[static_cast<size_t>(r)];
      std::vector<float>& row = logits[static_cast<size_t>(r)];
      row.resize(static_cast<size_t>(vocab));
      const int64_t shift = (static_cast<int64_t>(step) * 7919) % vocab;
      for (int64_t i = 0; i < vocab; ++i) row[static_cast<size_t>(i)] = b[static_cast<size_t>((i + shift) % vocab)];
      row[static_cast<size_t>(step % vocab)] += 1.5f;
      device_rows.upload(row_of[static_cast<size_t>(r)], row);
      jobs.push_back({.sampler = pairs[static_cast<size_t>(r)].device.get(), .row = row_of[static_cast<size_t>(r)]});
    }
    const std::vector<DeviceSampleOutcome> outcomes = sampler.sample(device_rows.tensor, jobs);
    ASSERT_EQ(outcomes.size(), jobs.size());
    for (int64_t r = 0; r < rows; ++r) {
      const Setting& setting = settings[static_cast<size_t>(r)];
      const DeviceSampleOutcome& got = outcomes[static_cast<size_t>(r)];
      Pair& pair = pairs[static_cast<size_t>(r)];
      const SampleResult want = pair.host->sample(logits[static_cast<size_t>(r)]);
      ASSERT_TRUE(got.ok()) << setting.name << ": " << got.error;
      const bool is_greedy = setting.params.greedy();
      if (is_greedy) {
        ++greedy;
        ASSERT_EQ(got.result.token_id, want.token_id) << setting.name << " step " << step << " vocab " << vocab;
      } else {
        ++draws;
      }
      if (got.result.token_id != want.token_id) {
        ++draw_mismatches;
        ++mismatches[static_cast<size_t>(r)];
        std::printf("[device sampler] %s step %d: device %d, host %d\n", setting.name.c_str(), step,
                    got.result.token_id, want.token_id);
        pair = make_pair(setting.params, seed * 7777 + static_cast<uint64_t>(step * 100 + r), rng, vocab);  // resync
        continue;
      }
      EXPECT_TRUE(close(got.result.logprob, want.logprob))
          << setting.name << " step " << step << ": logprob " << got.result.logprob << " vs " << want.logprob;
      ASSERT_EQ(got.result.top_logprobs.size(), want.top_logprobs.size()) << setting.name;
      for (size_t k = 0; k < want.top_logprobs.size(); ++k) {
        EXPECT_EQ(got.result.top_logprobs[k].token_id, want.top_logprobs[k].token_id) << setting.name << " rank " << k;
        EXPECT_TRUE(close(got.result.top_logprobs[k].logprob, want.top_logprobs[k].logprob))
            << setting.name << " rank " << k << ": " << got.result.top_logprobs[k].logprob << " vs "
            << want.top_logprobs[k].logprob;
      }
      // The same state afterwards: next draw and history.
      EXPECT_EQ(pair.device->peek_draw(), pair.host->peek_draw()) << setting.name;
      EXPECT_EQ(pair.device->history().generated_size(), pair.host->history().generated_size());
    }
  }
  std::printf("[device sampler] vocab %lld: %d greedy, %d draws, %d mismatches\n", static_cast<long long>(vocab), greedy,
              draws, draw_mismatches);
  EXPECT_LE(draw_mismatches * 1000, draws) << "more than 0.1 % of draws differ from the host's";
  for (int64_t r = 0; r < rows; ++r)
    EXPECT_LE(mismatches[static_cast<size_t>(r)] * 20, steps) << settings[static_cast<size_t>(r)].name << " disagrees often";
}

TEST(DeviceSampler, MatchesTheHostSamplerSmallVocabulary) {
  STRATA_REQUIRE_GPU();
  compare_with_host(1000, 100, 1);
}

TEST(DeviceSampler, MatchesTheHostSamplerQwenVocabulary) {
  STRATA_REQUIRE_GPU();
  compare_with_host(151936, 90, 2);
}

TEST(DeviceSampler, MatchesTheHostSamplerOddSizes) {
  STRATA_REQUIRE_GPU();
  compare_with_host(1, 3, 3);       // one token: everything picks it
  compare_with_host(37, 40, 4);     // fewer tokens than threads
  compare_with_host(1025, 20, 5);   // one past a block
  compare_with_host(262144, 4, 6);  // the largest vocabularies
}

// Rows of equal logits: greedy and every filter break ties by the lowest id, in the host's order.
TEST(DeviceSampler, TiesGoToTheLowestIdAsOnTheHost) {
  STRATA_REQUIRE_GPU();
  const int64_t vocab = 3000;
  DeviceRows rows(1, vocab, 0);
  DeviceSampler sampler(*gpu());
  std::vector<float> row(static_cast<size_t>(vocab), 0.25f);
  row[2999] = row[1500] = row[7] = 2.0f;  // three tied maxima
  row[3] = -0.0f;
  for (const Setting& setting : all_settings(vocab)) {
    for (uint64_t seed = 0; seed < 12; ++seed) {
      SamplingParams params = setting.params;
      params.seed = seed;
      Sampler host(params, {}), device(params, {});
      rows.upload(0, row);
      const DeviceSampleJob job{.sampler = &device, .row = 0};
      const auto outcomes = sampler.sample(rows.tensor, std::span(&job, 1));
      const SampleResult want = host.sample(row);
      ASSERT_TRUE(outcomes[0].ok()) << outcomes[0].error;
      EXPECT_EQ(outcomes[0].result.token_id, want.token_id) << setting.name << " seed " << seed;
      if (setting.params.greedy()) {
        EXPECT_EQ(outcomes[0].result.token_id, 7) << setting.name;
      }
    }
  }
  // Signed zeros are equal: the lower id wins the argmax whichever sign it has.
  std::vector<float> zeros(static_cast<size_t>(vocab), -1.0f);
  zeros[10] = -0.0f;
  zeros[20] = 0.0f;
  rows.upload(0, zeros);
  SamplingParams greedy;
  greedy.temperature = 0;
  Sampler device(greedy, {});
  const DeviceSampleJob job{.sampler = &device, .row = 0};
  EXPECT_EQ(sampler.sample(rows.tensor, std::span(&job, 1))[0].result.token_id, 10);
}

// Bad logits give the host's exact message, the other rows of the call are sampled as usual, and a
// failed row's sampler is left as a throwing sample() leaves it.
TEST(DeviceSampler, BadLogitsGiveTheHostsErrors) {
  STRATA_REQUIRE_GPU();
  const int64_t vocab = 5000;
  std::mt19937 rng(9);
  std::vector<std::vector<float>> logits;
  std::vector<std::vector<int32_t>> prompts;
  std::vector<SamplingParams> params;
  auto add = [&](std::vector<float> row, std::vector<int32_t> prompt, SamplingParams p) {
    logits.push_back(std::move(row));
    prompts.push_back(std::move(prompt));
    p.seed = logits.size();
    params.push_back(p);
  };
  SamplingParams random;
  random.top_p = 0.9f;
  SamplingParams penalised = random;
  penalised.repetition_penalty = 1.4f;
  SamplingParams greedy;
  greedy.temperature = 0;
  std::vector<float> nan = random_logits(vocab, 0, rng);
  nan[4000] = std::numeric_limits<float>::quiet_NaN();
  nan[17] = -std::numeric_limits<float>::quiet_NaN();
  add(nan, {1, 2}, random);
  add(random_logits(vocab, 1, rng), {3}, random);  // a good row between bad ones
  std::vector<float> inf = random_logits(vocab, 2, rng);
  inf[4999] = INFINITY;
  add(inf, {}, greedy);
  std::vector<float> all_masked(static_cast<size_t>(vocab), -INFINITY);
  add(all_masked, {5}, random);
  std::vector<float> penalised_nan = random_logits(vocab, 3, rng);
  penalised_nan[12] = -std::numeric_limits<float>::quiet_NaN();
  add(penalised_nan, {12, 40}, penalised);  // the penalty touches the NaN: its bits (and sign) survive
  add(random_logits(vocab, 0, rng), {2, static_cast<int32_t>(vocab) + 3}, random);  // history outside the vocabulary
  add(random_logits(vocab, 2, rng), {9, 9, 9}, penalised);
  // A penalty that makes a logit -inf is fine; one that overflows nothing is too.
  std::vector<float> huge = random_logits(vocab, 1, rng);
  huge[33] = -3e38f;
  add(huge, {33}, penalised);

  const int64_t n = static_cast<int64_t>(logits.size());
  DeviceRows rows(n, vocab, 0);
  DeviceSampler sampler(*gpu());
  std::vector<std::unique_ptr<Sampler>> host, device;
  std::vector<DeviceSampleJob> jobs;
  for (int64_t r = 0; r < n; ++r) {
    host.push_back(std::make_unique<Sampler>(params[static_cast<size_t>(r)], prompts[static_cast<size_t>(r)]));
    device.push_back(std::make_unique<Sampler>(params[static_cast<size_t>(r)], prompts[static_cast<size_t>(r)]));
    rows.upload(r, logits[static_cast<size_t>(r)]);
    jobs.push_back({.sampler = device.back().get(), .row = r});
  }
  const auto outcomes = sampler.sample(rows.tensor, jobs);
  for (int64_t r = 0; r < n; ++r) {
    std::string want_error;
    SampleResult want;
    try {
      want = host[static_cast<size_t>(r)]->sample(logits[static_cast<size_t>(r)]);
    } catch (const Error& e) {
      want_error = e.what();
    }
    const DeviceSampleOutcome& got = outcomes[static_cast<size_t>(r)];
    EXPECT_EQ(got.error, want_error) << "row " << r;
    if (want_error.empty() && got.ok()) {
      EXPECT_EQ(got.result.token_id, want.token_id) << "row " << r;
      EXPECT_TRUE(close(got.result.logprob, want.logprob)) << "row " << r;
    }
    // Failed or not, both samplers are in the same state now.
    EXPECT_EQ(device[static_cast<size_t>(r)]->peek_draw(), host[static_cast<size_t>(r)]->peek_draw()) << "row " << r;
    EXPECT_EQ(device[static_cast<size_t>(r)]->history().generated_size(),
              host[static_cast<size_t>(r)]->history().generated_size()) << "row " << r;
  }
  EXPECT_NE(outcomes[0].error.find("token 17 is -nan"), std::string::npos) << outcomes[0].error;
  EXPECT_NE(outcomes[4].error.find("token 12 is -nan"), std::string::npos) << outcomes[4].error;
}

TEST(DeviceSampler, RejectsMalformedCalls) {
  STRATA_REQUIRE_GPU();
  DeviceSampler sampler(*gpu());
  DeviceRows rows(2, 100, 0);
  SamplingParams p;
  Sampler a(p, {}), b(p, {});
  EXPECT_TRUE(sampler.sample(rows.tensor, {}).empty());
  const std::vector<DeviceSampleJob> twice = {{.sampler = &a, .row = 1}, {.sampler = &b, .row = 1}};
  EXPECT_THROW(sampler.sample(rows.tensor, twice), Error);
  const std::vector<DeviceSampleJob> outside = {{.sampler = &a, .row = 2}};
  EXPECT_THROW(sampler.sample(rows.tensor, outside), Error);
  std::vector<float> host_row(200);
  const Tensor on_host = Tensor::contiguous(host_row.data(), DType::f32, {2, 100});
  const std::vector<DeviceSampleJob> one = {{.sampler = &a, .row = 0}};
  EXPECT_THROW(sampler.sample(on_host, one), Error);
}

}  // namespace
}  // namespace strata::engine
