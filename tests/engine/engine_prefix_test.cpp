// Prefix reuse through the engine: a repeated prompt restores its longest stored chunk boundary and
// computes only the rest; a follow-up turn restores the exact end of the finished conversation and
// computes only the new tokens; a tiny store evicts and stays correct; attention KV comes back with the
// Mamba states. Every output is compared with the no-reuse oracle.
#include <random>

#include <gtest/gtest.h>

#include "engine_test_support.h"

namespace strata::engine {
namespace {

using testing::fixture_model;
using testing::greedy;
using testing::random_prompt;
using testing::reference_greedy;

EngineOptions reuse_options(size_t store_bytes) {
  return EngineOptions{.max_sequences = 2, .max_context = 96, .token_budget = 32, .prefill_chunk = 8,
                       .kv_block_size = 4, .prefix_store_bytes = store_bytes, .threads = 2};
}

// Runs an unrelated request, so the KV blocks the previous one freed (the allocator hands out the same
// ones again) hold other data: a restore that skipped the KV would then be caught.
void overwrite_freed_kv(Engine& engine, std::mt19937& rng, const model::Model& model) {
  engine.generate(random_prompt(rng, 40, model.vocab_size()), greedy(2));
}

class PrefixReuse : public ::testing::TestWithParam<std::string> {};

TEST_P(PrefixReuse, RepeatedPromptComputesOnlyPastTheLastBoundary) {
  const model::Model& model = fixture_model(GetParam());
  std::mt19937 rng(31);
  const std::vector<int32_t> prompt = random_prompt(rng, 29, model.vocab_size());
  const std::vector<int32_t> expected = reference_greedy(model, prompt, 10);
  Engine engine(model, reuse_options(size_t{64} << 20));
  const Result first = engine.generate(prompt, greedy(10));
  EXPECT_EQ(first.tokens, expected);
  EXPECT_EQ(first.stats.reused_tokens, 0);
  EXPECT_EQ(first.stats.computed_tokens, 29);
  overwrite_freed_kv(engine, rng, model);
  const Result second = engine.generate(prompt, greedy(10));
  EXPECT_EQ(second.tokens, expected);
  EXPECT_EQ(second.stats.reused_tokens, 24);  // boundaries at 8, 16, 24 were captured during prefill
  EXPECT_EQ(second.stats.computed_tokens, 5);
  const EngineStats stats = engine.stats();
  EXPECT_EQ(stats.prompt_tokens_reused, 24);
  EXPECT_EQ(stats.prompt_tokens_computed, 29 + 40 + 5);
  // A one-token prompt has nothing to reuse (its token must be computed for logits), twice over.
  for (int i = 0; i < 2; ++i) {
    const Result single = engine.generate({prompt[0]}, greedy(3));
    EXPECT_EQ(single.tokens, reference_greedy(model, {prompt[0]}, 3));
    EXPECT_EQ(single.stats.computed_tokens, 1);
  }
}

TEST_P(PrefixReuse, FollowUpTurnComputesOnlyTheNewTokens) {
  const model::Model& model = fixture_model(GetParam());
  std::mt19937 rng(37);
  const std::vector<int32_t> turn1 = random_prompt(rng, 13, model.vocab_size());
  Engine engine(model, reuse_options(size_t{64} << 20));
  const Result answer = engine.generate(turn1, greedy(9));
  ASSERT_EQ(answer.tokens, reference_greedy(model, turn1, 9));
  overwrite_freed_kv(engine, rng, model);
  std::vector<int32_t> turn2 = turn1;
  turn2.insert(turn2.end(), answer.tokens.begin(), answer.tokens.end());
  const std::vector<int32_t> user = random_prompt(rng, 6, model.vocab_size());
  turn2.insert(turn2.end(), user.begin(), user.end());
  const Result reply = engine.generate(turn2, greedy(8));
  EXPECT_EQ(reply.tokens, reference_greedy(model, turn2, 8));
  // Reused: the first turn's prompt and every answer token (the last one was fed before the first
  // request retired); computed: only the new user tokens.
  EXPECT_EQ(reply.stats.reused_tokens, 13 + 9);
  EXPECT_EQ(reply.stats.computed_tokens, 6);
}

TEST_P(PrefixReuse, TinyStoreEvictsAndStaysCorrect) {
  const model::Model& model = fixture_model(GetParam());
  std::mt19937 rng(41);
  // Room for about two states: every request evicts older ones, and lookups may miss or hit stale
  // boundaries; the outputs must not care.
  Engine probe(model, reuse_options(size_t{64} << 20));
  probe.generate(random_prompt(rng, 8, model.vocab_size()), greedy(1));
  const size_t one_state = probe.prefix_store()->stats().bytes;
  ASSERT_GT(one_state, 0u);
  Engine engine(model, reuse_options(one_state * 5 / 2));
  std::vector<std::vector<int32_t>> prompts;
  for (int i = 0; i < 4; ++i) prompts.push_back(random_prompt(rng, 10 + 4 * i, model.vocab_size()));
  // Each prompt twice in a row (the repeat can hit its own boundary at 8 before later prompts evict it),
  // then all again after the others have pushed them out.
  for (int round = 0; round < 2; ++round)
    for (const auto& prompt : prompts) {
      const std::vector<int32_t> expected = reference_greedy(model, prompt, 5);
      EXPECT_EQ(engine.generate(prompt, greedy(5)).tokens, expected);
      if (round == 0) {
        EXPECT_EQ(engine.generate(prompt, greedy(5)).tokens, expected);
      }
    }
  const cache::PrefixStoreStats stats = engine.prefix_store()->stats();
  EXPECT_GT(stats.evictions, 0u);
  EXPECT_LE(stats.bytes, one_state * 5 / 2);
  EXPECT_GT(engine.stats().prompt_tokens_reused, 0);
}

TEST_P(PrefixReuse, SharedSystemPromptAcrossConcurrentRequests) {
  const model::Model& model = fixture_model(GetParam());
  std::mt19937 rng(43);
  const std::vector<int32_t> system = random_prompt(rng, 16, model.vocab_size());
  Engine engine(model, reuse_options(size_t{64} << 20));
  engine.generate(system, greedy(1));  // warms the store with boundaries 8 and 16
  std::vector<std::vector<int32_t>> prompts;
  std::vector<std::vector<int32_t>> outputs(3);
  for (int i = 0; i < 3; ++i) {
    prompts.push_back(system);
    const auto tail = random_prompt(rng, 3 + 2 * i, model.vocab_size());
    prompts.back().insert(prompts.back().end(), tail.begin(), tail.end());
    engine.submit({.prompt = prompts.back(), .sampling = greedy(6), .callback = [&, i](const Event& e) {
                     if (e.kind == Event::Kind::token) {
                       outputs[static_cast<size_t>(i)].push_back(e.token);
                     } else {
                       EXPECT_EQ(e.stats.reused_tokens, 16);
                     }
                   }});
  }
  engine.run_until_idle();
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(outputs[static_cast<size_t>(i)], reference_greedy(model, prompts[static_cast<size_t>(i)], 6));
  EXPECT_EQ(engine.free_slots(), 2);
  if (engine.total_kv_blocks() >= 0) {
    EXPECT_EQ(engine.free_kv_blocks(), engine.total_kv_blocks());
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, PrefixReuse, ::testing::Values("nemotron_h_hybrid", "mamba2_g1"));

TEST(PrefixReuseOff, ZeroBudgetDisablesTheStore) {
  const model::Model& model = fixture_model("mamba2_g1");
  Engine engine(model, reuse_options(0));
  EXPECT_EQ(engine.prefix_store(), nullptr);
  const std::vector<int32_t> prompt = {5, 6, 7, 8, 9, 10, 11, 12, 13, 14};
  engine.generate(prompt, greedy(2));
  EXPECT_EQ(engine.generate(prompt, greedy(2)).stats.computed_tokens, 10);
}

}  // namespace
}  // namespace strata::engine
