// Scheduler invariants: the token budget per step, slot and KV block accounting back to the initial
// values after retirement and cancellation, FIFO admission (also when the head of the queue is waiting
// for KV room), refusal of requests that can never fit, cancellation of queued and running requests,
// and submit / cancel / generate from other threads while the engine steps in the background.
#include <atomic>
#include <random>
#include <thread>

#include <fmt/format.h>

#include <gtest/gtest.h>

#include "engine_test_support.h"

namespace strata::engine {
namespace {

using testing::fixture_model;
using testing::greedy;
using testing::random_prompt;
using testing::reference_greedy;

struct Recorder {
  std::vector<int32_t> tokens;
  std::optional<Event> finished;
  int finished_events = 0;
  EventCallback callback() {
    return [this](const Event& e) {
      if (e.kind == Event::Kind::token) {
        EXPECT_FALSE(finished) << "token after finished";
        tokens.push_back(e.token);
      } else {
        finished = e;
        ++finished_events;
      }
    };
  }
};

const model::Model& hybrid() { return fixture_model("nemotron_h_hybrid"); }

TEST(EngineScheduler, RejectsInvalidOptions) {
  EXPECT_THROW(Engine(hybrid(), EngineOptions{.max_sequences = 4, .token_budget = 3}), strata::Error);
  EXPECT_THROW(Engine(hybrid(), EngineOptions{.max_sequences = 0}), strata::Error);
  EXPECT_THROW(Engine(hybrid(), EngineOptions{.prefill_chunk = 0}), strata::Error);
}

TEST(EngineScheduler, BudgetPerStepAndResourcesReturnToThePool) {
  std::mt19937 rng(5);
  Engine engine(hybrid(), EngineOptions{.max_sequences = 4, .max_context = 64, .token_budget = 9,
                                        .prefill_chunk = 4, .kv_block_size = 4, .threads = 2});
  const int free_slots = engine.free_slots();
  const int64_t free_blocks = engine.free_kv_blocks();
  ASSERT_EQ(free_slots, 4);
  ASSERT_EQ(free_blocks, engine.total_kv_blocks());
  std::vector<Recorder> recorders(7);
  for (auto& r : recorders)
    engine.submit({.prompt = random_prompt(rng, std::uniform_int_distribution<int64_t>(1, 25)(rng), hybrid().vocab_size()),
                   .sampling = greedy(6), .callback = r.callback()});
  bool saw_mixed_step = false;
  while (engine.step()) {
    const StepReport step = engine.last_step();
    ASSERT_LE(step.tokens, 9);
    ASSERT_LE(step.running, 4);
    ASSERT_EQ(engine.free_slots(), 4 - step.running);
    saw_mixed_step |= step.decode_sequences > 0 && step.prefill_sequences > 0;
  }
  EXPECT_TRUE(saw_mixed_step) << "decodes and prefill chunks never shared a step";
  EXPECT_LE(engine.stats().max_step_tokens, 9);
  for (auto& r : recorders) {
    ASSERT_TRUE(r.finished);
    EXPECT_EQ(r.finished_events, 1);
    EXPECT_EQ(r.finished->reason, FinishReason::length);
    EXPECT_EQ(r.tokens.size(), 6u);
    EXPECT_EQ(r.finished->stats.generated_tokens, 6);
  }
  EXPECT_EQ(engine.free_slots(), free_slots);
  EXPECT_EQ(engine.free_kv_blocks(), free_blocks);
  EXPECT_EQ(engine.reserved_kv_blocks(), 0);
}

TEST(EngineScheduler, AdmissionIsFifoEvenWhenTheHeadWaitsForKvRoom) {
  std::mt19937 rng(9);
  // 12 blocks of 4 tokens. A takes 8 blocks; B needs 8 and must wait for A; C needs 2 and would fit
  // beside A, but must not overtake B.
  Engine engine(hybrid(), EngineOptions{.max_sequences = 3, .max_context = 48, .token_budget = 16,
                                        .prefill_chunk = 4, .kv_block_size = 4, .kv_blocks = 12, .threads = 2});
  std::vector<std::string> log;  // "token N" / "finished N" in delivery order
  auto track = [&](int who) {
    return [&, who](const Event& e) {
      const std::string entry = fmt::format("{} {}", e.kind == Event::Kind::token ? "token" : "finished", who);
      if (log.empty() || log.back() != entry) log.push_back(entry);
    };
  };
  engine.submit({.prompt = random_prompt(rng, 22, 137), .sampling = greedy(10), .callback = track(0)});
  engine.submit({.prompt = random_prompt(rng, 20, 137), .sampling = greedy(12), .callback = track(1)});
  engine.submit({.prompt = random_prompt(rng, 4, 137), .sampling = greedy(4), .callback = track(2)});
  engine.step();
  EXPECT_EQ(engine.last_step().running, 1);
  EXPECT_EQ(engine.last_step().queued, 2);
  EXPECT_EQ(engine.reserved_kv_blocks(), 8);
  engine.run_until_idle();
  // C could have run beside A from the first step; FIFO keeps it behind B, which waits for A to retire.
  const auto at = [&](const std::string& entry) { return std::find(log.begin(), log.end(), entry) - log.begin(); };
  ASSERT_LT(at("finished 2"), static_cast<long>(log.size()));
  EXPECT_LT(at("finished 0"), at("token 1"));
  EXPECT_LT(at("finished 0"), at("token 2"));
  EXPECT_EQ(engine.reserved_kv_blocks(), 0);
  EXPECT_EQ(engine.free_kv_blocks(), 12);
}

TEST(EngineScheduler, SlotLimitQueuesInArrivalOrder) {
  std::mt19937 rng(3);
  Engine engine(fixture_model("mamba2_g1"), EngineOptions{.max_sequences = 1, .max_context = 32, .token_budget = 8,
                                                         .prefill_chunk = 8, .threads = 2});
  std::vector<RequestId> finished_order;
  std::vector<RequestId> ids;
  for (int i = 0; i < 4; ++i)
    ids.push_back(engine.submit({.prompt = random_prompt(rng, 5 + i, 150), .sampling = greedy(3),
                                 .callback = [&](const Event& e) {
                                   if (e.kind == Event::Kind::finished) finished_order.push_back(e.id);
                                 }}));
  engine.run_until_idle();
  EXPECT_EQ(finished_order, ids);
  EXPECT_EQ(engine.free_slots(), 1);
}

TEST(EngineScheduler, RefusesRequestsThatCanNeverFitWithAReason) {
  std::mt19937 rng(4);
  Engine engine(hybrid(), EngineOptions{.max_sequences = 2, .max_context = 40, .token_budget = 16,
                                        .prefill_chunk = 4, .kv_block_size = 4, .kv_blocks = 6, .threads = 2});
  Recorder too_long, too_big_for_pool, empty, bad_token, bad_params, fine;
  engine.submit({.prompt = random_prompt(rng, 30, 137), .sampling = greedy(11), .callback = too_long.callback()});
  engine.submit({.prompt = random_prompt(rng, 20, 137), .sampling = greedy(10), .callback = too_big_for_pool.callback()});
  engine.submit({.prompt = {}, .sampling = greedy(3), .callback = empty.callback()});
  engine.submit({.prompt = {5, 137, 6}, .sampling = greedy(3), .callback = bad_token.callback()});
  SamplingParams negative = greedy(3);
  negative.temperature = -1;
  engine.submit({.prompt = {5, 6}, .sampling = negative, .callback = bad_params.callback()});
  const std::vector<int32_t> prompt = random_prompt(rng, 10, 137);
  engine.submit({.prompt = prompt, .sampling = greedy(5), .callback = fine.callback()});
  engine.run_until_idle();

  auto expect_refused = [](const Recorder& r, const std::string& words) {
    ASSERT_TRUE(r.finished);
    EXPECT_EQ(r.finished->reason, FinishReason::error);
    EXPECT_NE(r.finished->message.find(words), std::string::npos) << r.finished->message;
    EXPECT_TRUE(r.tokens.empty());
  };
  expect_refused(too_long, "max_context 40");
  expect_refused(too_big_for_pool, "needs 8 KV blocks");
  expect_refused(empty, "empty");
  expect_refused(bad_token, "outside the vocabulary");
  expect_refused(bad_params, "temperature");
  ASSERT_TRUE(fine.finished);
  EXPECT_EQ(fine.finished->reason, FinishReason::length);
  EXPECT_EQ(fine.tokens, reference_greedy(hybrid(), prompt, 5));
  EXPECT_EQ(engine.stats().refused, 5u);
}

TEST(EngineScheduler, CancelQueuedAndRunningRequests) {
  std::mt19937 rng(8);
  Engine engine(hybrid(), EngineOptions{.max_sequences = 1, .max_context = 64, .token_budget = 8,
                                        .prefill_chunk = 4, .kv_block_size = 4, .threads = 2});
  const int64_t free_blocks = engine.free_kv_blocks();
  Recorder running, queued, after;
  const RequestId running_id =
      engine.submit({.prompt = random_prompt(rng, 6, 137), .sampling = greedy(40), .callback = running.callback()});
  const RequestId queued_id =
      engine.submit({.prompt = random_prompt(rng, 6, 137), .sampling = greedy(5), .callback = queued.callback()});
  const std::vector<int32_t> after_prompt = random_prompt(rng, 7, 137);
  engine.submit({.prompt = after_prompt, .sampling = greedy(4), .callback = after.callback()});
  for (int i = 0; i < 4; ++i) engine.step();
  ASSERT_FALSE(running.tokens.empty());
  EXPECT_TRUE(queued.tokens.empty());
  EXPECT_TRUE(engine.cancel(queued_id));
  EXPECT_TRUE(engine.cancel(running_id));
  EXPECT_FALSE(engine.cancel(9999));
  const size_t tokens_before = running.tokens.size();
  engine.run_until_idle();
  ASSERT_TRUE(running.finished && queued.finished && after.finished);
  EXPECT_EQ(running.finished->reason, FinishReason::cancelled);
  EXPECT_EQ(running.tokens.size(), tokens_before);
  EXPECT_EQ(queued.finished->reason, FinishReason::cancelled);
  EXPECT_TRUE(queued.tokens.empty());
  EXPECT_EQ(after.tokens, reference_greedy(hybrid(), after_prompt, 4));
  EXPECT_FALSE(engine.cancel(running_id)) << "cancelling a finished request";
  EXPECT_EQ(engine.free_slots(), 1);
  EXPECT_EQ(engine.free_kv_blocks(), free_blocks);
  EXPECT_EQ(engine.reserved_kv_blocks(), 0);
  EXPECT_EQ(engine.stats().cancelled, 2u);
}

TEST(EngineScheduler, StopTokenEndsTheRequest) {
  std::mt19937 rng(12);
  const std::vector<int32_t> prompt = random_prompt(rng, 9, 137);
  const std::vector<int32_t> expected = reference_greedy(hybrid(), prompt, 8);
  Engine engine(hybrid(), EngineOptions{.max_sequences = 2, .max_context = 32, .token_budget = 8, .prefill_chunk = 4,
                                        .kv_block_size = 4, .threads = 2});
  SamplingParams params = greedy(8);
  params.stop_token_ids = {expected[3]};
  const Result result = engine.generate(prompt, params);
  const auto first = std::find(expected.begin(), expected.end(), expected[3]);
  EXPECT_EQ(result.tokens, std::vector<int32_t>(expected.begin(), first + 1));
  EXPECT_EQ(result.reason, FinishReason::stop);
}

TEST(EngineScheduler, StopStringNeedsTokenTextAndEndsTheRequest) {
  std::mt19937 rng(13);
  const std::vector<int32_t> prompt = random_prompt(rng, 7, 137);
  const std::vector<int32_t> expected = reference_greedy(hybrid(), prompt, 8);
  Engine engine(hybrid(), EngineOptions{.max_sequences = 2, .max_context = 32, .token_budget = 8, .prefill_chunk = 4,
                                        .kv_block_size = 4, .threads = 2});
  auto text_of = [](int32_t token) { return fmt::format("<{}>", token); };
  SamplingParams params = greedy(8);
  params.stop_strings = {text_of(expected[4])};
  const Result refused = engine.generate(prompt, params);
  EXPECT_EQ(refused.reason, FinishReason::error);
  EXPECT_NE(refused.message.find("token_text"), std::string::npos) << refused.message;

  const Result result = engine.generate(prompt, params, text_of);
  EXPECT_EQ(result.reason, FinishReason::stop);
  const auto stop_at = std::find(expected.begin(), expected.end(), expected[4]);
  EXPECT_EQ(result.tokens, std::vector<int32_t>(expected.begin(), stop_at + 1));
  std::string text;
  for (auto it = expected.begin(); it != stop_at; ++it) text += text_of(*it);
  EXPECT_EQ(result.text, text);
}

TEST(EngineScheduler, SubmitCancelAndGenerateFromOtherThreads) {
  const model::Model& model = hybrid();
  Engine engine(model, EngineOptions{.max_sequences = 3, .max_context = 48, .token_budget = 12, .prefill_chunk = 4,
                                     .kv_block_size = 4, .threads = 1});
  engine.start();
  std::vector<std::vector<int32_t>> prompts;
  std::mt19937 rng(21);
  for (int i = 0; i < 4; ++i) prompts.push_back(random_prompt(rng, 4 + 5 * i, model.vocab_size()));
  std::vector<Result> results(prompts.size());
  std::atomic<int> cancelled_events{0};
  std::vector<std::thread> clients;
  for (size_t i = 0; i < prompts.size(); ++i)
    clients.emplace_back([&, i] { results[i] = engine.generate(prompts[i], greedy(6)); });
  clients.emplace_back([&] {
    for (int k = 0; k < 5; ++k) {
      const RequestId id = engine.submit({.prompt = {7, 8, 9}, .sampling = greedy(30), .callback = [&](const Event& e) {
                                            if (e.kind == Event::Kind::finished && e.reason == FinishReason::cancelled)
                                              ++cancelled_events;
                                          }});
      std::this_thread::sleep_for(std::chrono::microseconds(200 * k));
      engine.cancel(id);
    }
  });
  for (auto& t : clients) t.join();
  // generate() returned for the four; the cancelled ones finish on the background thread.
  while (engine.stats().finished < prompts.size() + 5) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  engine.stop();
  for (size_t i = 0; i < prompts.size(); ++i) {
    EXPECT_EQ(results[i].reason, FinishReason::length);
    EXPECT_EQ(results[i].tokens, reference_greedy(model, prompts[i], 6)) << "prompt " << i;
  }
  EXPECT_EQ(engine.stats().finished, prompts.size() + 5);
  EXPECT_GE(cancelled_events.load(), 1);
  EXPECT_EQ(engine.free_slots(), 3);
  EXPECT_EQ(engine.reserved_kv_blocks(), 0);
}

}  // namespace
}  // namespace strata::engine
