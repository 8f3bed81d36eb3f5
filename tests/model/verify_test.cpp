// Model-level (1+S)-token verification: one packed step holds a prefill chunk of one sequence, a
// one-token decode of another and a keep_states verification of a third. For every k the verification
// is rolled back to its first k+1 tokens, and then the logits of those tokens, every layer's Mamba state,
// the KV length and the logits of a following decode must equal running the same k+1 tokens one by one.
#include <cmath>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "strata/core/error.h"
#include "strata/core/thread_pool.h"
#include "strata/core/workspace.h"
#include "strata/model/model.h"

namespace strata::model {
namespace {

const std::filesystem::path kFixtures = std::filesystem::path(STRATA_SOURCE_DIR) / "tests/fixtures/models";
constexpr int kDrafts = 3;  // S

struct Runner {
  const Model& model;
  SequenceCache cache;
  Workspace workspace;
  ThreadPool& pool;

  Runner(const Model& m, ThreadPool& p)
      : model(m),
        cache(m.make_cache(CacheOptions{.max_sequences = 3, .max_context = 64, .kv_block_size = 4,
                                        .speculative_tokens = kDrafts})),
        pool(p) {}

  // Runs one step and returns its logits, row-major [rows, V].
  std::vector<float> step(const std::vector<int32_t>& tokens, const std::vector<SequenceStep>& steps) {
    const ForwardBatch batch{.tokens = tokens, .sequences = steps};
    workspace.reset();
    Tensor logits = workspace.take(DType::f32, {Model::logits_rows(batch), model.vocab_size()});
    model.forward(batch, cache, logits, workspace, pool);
    return std::vector<float>(logits.ptr<float>(), logits.ptr<float>() + logits.numel());
  }
  std::vector<float> run(int slot, const std::vector<int32_t>& tokens, bool all_logits = false) {
    return step(tokens, {SequenceStep{.slot = slot, .length = static_cast<int64_t>(tokens.size()), .all_logits = all_logits}});
  }
};

std::vector<float> state_of(const SequenceCache& cache, int slot) {
  std::vector<float> out;
  if (!cache.mamba) return out;
  for (int layer = 0; layer < cache.mamba->num_layers(); ++layer) {
    for (const Tensor& t : {cache.mamba->conv_state(layer, slot), cache.mamba->ssm_state(layer, slot)}) {
      EXPECT_EQ(t.dtype, DType::f32);
      out.insert(out.end(), t.ptr<const float>(), t.ptr<const float>() + t.numel());
    }
  }
  return out;
}

double max_diff(const float* a, const float* b, size_t n) {
  double m = 0;
  for (size_t i = 0; i < n; ++i) m = std::max(m, std::fabs(double(a[i]) - double(b[i])));
  return m;
}

std::vector<int32_t> random_tokens(std::mt19937& rng, int n, int64_t vocab) {
  std::uniform_int_distribution<int32_t> d(0, static_cast<int32_t>(vocab - 1));
  std::vector<int32_t> t(static_cast<size_t>(n));
  for (auto& x : t) x = d(rng);
  return t;
}

class Verify : public ::testing::TestWithParam<std::string> {};

TEST_P(Verify, MixedStepThenRollbackToEveryPrefixEqualsRunningIt) {
  const auto model = Model::load(kFixtures / GetParam());
  const int64_t V = model->vocab_size();
  ThreadPool pool(2);
  std::mt19937 rng(7);
  const std::vector<int32_t> prefill = random_tokens(rng, 5, V);       // sequence A: fresh prefill
  const std::vector<int32_t> decode_prompt = random_tokens(rng, 4, V); // sequence B: then one decode token
  const std::vector<int32_t> verify_prompt = random_tokens(rng, 6, V); // sequence C: then 1+S verified tokens
  const std::vector<int32_t> decode_token = random_tokens(rng, 1, V);
  const std::vector<int32_t> verified = random_tokens(rng, 1 + kDrafts, V);
  const std::vector<int32_t> after = random_tokens(rng, 1, V);

  for (int k = 0; k <= kDrafts; ++k) {
    SCOPED_TRACE("accepted drafts k = " + std::to_string(k));
    // The packed step: decode of B and verification of C lead (token by token), prefill of A follows.
    Runner packed(*model, pool);
    const int a = packed.cache.allocate(), b = packed.cache.allocate(), c = packed.cache.allocate();
    packed.run(b, decode_prompt);
    packed.run(c, verify_prompt);
    std::vector<int32_t> tokens = decode_token;
    tokens.insert(tokens.end(), verified.begin(), verified.end());
    tokens.insert(tokens.end(), prefill.begin(), prefill.end());
    const std::vector<float> logits = packed.step(
        tokens, {SequenceStep{.slot = b, .length = 1},
                 SequenceStep{.slot = c, .length = 1 + kDrafts, .all_logits = true, .keep_states = true},
                 SequenceStep{.slot = a, .length = static_cast<int64_t>(prefill.size())}});
    ASSERT_EQ(logits.size(), static_cast<size_t>((1 + (1 + kDrafts) + 1) * V));
    packed.cache.rollback(c, kDrafts, k);
    EXPECT_EQ(packed.cache.position(c), static_cast<int64_t>(verify_prompt.size()) + k + 1);
    if (packed.cache.kv) {
      EXPECT_EQ(packed.cache.kv->length(c), static_cast<int64_t>(verify_prompt.size()) + k + 1);
    }

    // The oracle: each sequence alone, C's verified tokens one at a time.
    Runner alone(*model, pool);
    const int ra = alone.cache.allocate(), rb = alone.cache.allocate(), rc = alone.cache.allocate();
    const std::vector<float> a_logits = alone.run(ra, prefill);
    alone.run(rb, decode_prompt);
    const std::vector<float> b_logits = alone.run(rb, decode_token);
    alone.run(rc, verify_prompt);
    std::vector<float> c_logits;
    for (int j = 0; j <= k; ++j) {
      const std::vector<float> row = alone.run(rc, {verified[static_cast<size_t>(j)]});
      c_logits.insert(c_logits.end(), row.begin(), row.end());
    }

    EXPECT_LT(max_diff(logits.data(), b_logits.data(), static_cast<size_t>(V)), 1e-4) << "decode row";
    EXPECT_LT(max_diff(logits.data() + V, c_logits.data(), c_logits.size()), 1e-4) << "verified rows 0..k";
    EXPECT_LT(max_diff(logits.data() + (2 + kDrafts) * V, a_logits.data(), static_cast<size_t>(V)), 1e-4)
        << "prefill row";
    const std::vector<float> got = state_of(packed.cache, c), want = state_of(alone.cache, rc);
    ASSERT_EQ(got.size(), want.size());
    EXPECT_LT(max_diff(got.data(), want.data(), got.size()), 1e-5) << "Mamba states after rollback";

    // Continuing after the rollback reads the kept state and the truncated KV.
    const std::vector<float> next = packed.run(c, after), next_alone = alone.run(rc, after);
    EXPECT_LT(max_diff(next.data(), next_alone.data(), static_cast<size_t>(V)), 1e-4) << "decode after rollback";
  }
}

TEST_P(Verify, KeepStatesIsCheckedBeforeAnyStateChanges) {
  const auto model = Model::load(kFixtures / GetParam());
  ThreadPool pool(1);
  Runner r(*model, pool);
  const int a = r.cache.allocate(), b = r.cache.allocate();
  r.run(a, {1, 2, 3});
  r.run(b, {4, 5});
  const std::vector<float> before = state_of(r.cache, b);
  // Longer than S + 1 tokens.
  EXPECT_THROW(r.step({1, 2, 3, 4, 5}, {SequenceStep{.slot = b, .length = 5, .keep_states = true}}), Error);
  // A verification after a prefill chunk.
  EXPECT_THROW(r.step({7, 8, 9}, {SequenceStep{.slot = a, .length = 2}, SequenceStep{.slot = b, .length = 1, .keep_states = true}}),
               Error);
  EXPECT_EQ(r.cache.position(a), 3);
  EXPECT_EQ(r.cache.position(b), 2);
  EXPECT_EQ(state_of(r.cache, b), before);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, Verify,
                         ::testing::Values("mamba2_g1", "mamba2_g2", "nemotron_h_hybrid", "nemotron_h_latent",
                                           "granite_moe_hybrid", "granite_dense_hybrid", "bamba", "falcon_h1_norm",
                                           "falcon_h1_gate", "falcon_h1_norm_first", "zamba2"));

}  // namespace
}  // namespace strata::model
