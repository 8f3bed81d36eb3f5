// Batch = single: greedy generation of several prompts through one engine, packed into shared steps,
// gives exactly the tokens each prompt gets alone from the plain forward loop (the oracle).
#include <random>

#include <gtest/gtest.h>

#include "engine_test_support.h"

namespace strata::engine {
namespace {

using testing::fixture_model;
using testing::greedy;
using testing::random_prompt;
using testing::reference_greedy;

class BatchEqualsSingle : public ::testing::TestWithParam<std::string> {};

TEST_P(BatchEqualsSingle, PromptsOfDifferentLengthsTogether) {
  const model::Model& model = fixture_model(GetParam());
  std::mt19937 rng(11);
  const std::vector<int64_t> lengths = {3, 17, 9, 26};
  std::vector<std::vector<int32_t>> prompts;
  for (int64_t n : lengths) prompts.push_back(random_prompt(rng, n, model.vocab_size()));

  Engine engine(model, EngineOptions{.max_sequences = 4, .max_context = 64, .token_budget = 32, .prefill_chunk = 8,
                                     .kv_block_size = 4, .threads = 2});
  std::vector<std::vector<int32_t>> outputs(prompts.size());
  std::vector<FinishReason> reasons(prompts.size(), FinishReason::error);
  for (size_t i = 0; i < prompts.size(); ++i)
    engine.submit(Request{.prompt = prompts[i], .sampling = greedy(12), .callback = [&, i](const Event& e) {
                            if (e.kind == Event::Kind::token) outputs[i].push_back(e.token);
                            else reasons[i] = e.reason;
                          }});
  engine.run_until_idle();
  for (size_t i = 0; i < prompts.size(); ++i) {
    EXPECT_EQ(reasons[i], FinishReason::length) << "prompt " << i;
    EXPECT_EQ(outputs[i], reference_greedy(model, prompts[i], 12)) << "prompt " << i << " of length " << lengths[i];
  }
  // Several sequences really shared steps: more tokens than one sequence's chunk in some step.
  EXPECT_GT(engine.stats().max_step_tokens, 8);
  EXPECT_LT(engine.stats().steps, 4u * 12u);
}

TEST_P(BatchEqualsSingle, ManyRandomRequestsUnderTightLimits) {
  const model::Model& model = fixture_model(GetParam());
  std::mt19937 rng(23);
  // Few slots, a small token budget and a small KV pool: requests queue, prefill in pieces, and admit as
  // others retire.
  Engine engine(model, EngineOptions{.max_sequences = 3, .max_context = 48, .token_budget = 10, .prefill_chunk = 4,
                                     .kv_block_size = 4, .kv_blocks = 20, .threads = 2});
  const int n = 10;
  std::vector<std::vector<int32_t>> prompts;
  std::vector<int> max_new;
  std::vector<std::vector<int32_t>> outputs(n);
  for (int i = 0; i < n; ++i) {
    prompts.push_back(random_prompt(rng, std::uniform_int_distribution<int64_t>(1, 30)(rng), model.vocab_size()));
    max_new.push_back(std::uniform_int_distribution<int>(1, 10)(rng));
    engine.submit(Request{.prompt = prompts.back(), .sampling = greedy(max_new.back()),
                          .callback = [&, i](const Event& e) {
                            if (e.kind == Event::Kind::token) outputs[static_cast<size_t>(i)].push_back(e.token);
                          }});
  }
  while (engine.step()) {
    ASSERT_LE(engine.last_step().tokens, 10);
    if (engine.total_kv_blocks() >= 0) {  // models with attention: blocks in use <= reserved <= pool
      ASSERT_LE(engine.reserved_kv_blocks(), engine.total_kv_blocks());
      ASSERT_LE(engine.total_kv_blocks() - engine.free_kv_blocks(), engine.reserved_kv_blocks());
    }
  }
  for (int i = 0; i < n; ++i)
    EXPECT_EQ(outputs[static_cast<size_t>(i)], reference_greedy(model, prompts[static_cast<size_t>(i)], max_new[static_cast<size_t>(i)]))
        << "request " << i;
  EXPECT_EQ(engine.stats().finished, static_cast<uint64_t>(n));
}

INSTANTIATE_TEST_SUITE_P(Fixtures, BatchEqualsSingle, ::testing::Values("nemotron_h_hybrid", "mamba2_g1"));

}  // namespace
}  // namespace strata::engine
