// Steady-state Model::forward allocates nothing: this binary replaces the global operator new with a
// counting one, warms a model up, then runs 100 mixed prefill/decode/verification steps and requires zero
// heap allocations inside forward — what CUDA-graph capture will need. The workspace, reserved up front with
// Model::workspace_bytes, must never have grown either (so the sizing function is an upper bound).
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <new>
#include <random>
#include <vector>

#include <gtest/gtest.h>

// GCC pairs its own new/delete when it inlines the replacements below and mistakes them for a mismatch.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

#include "strata/core/thread_pool.h"
#include "strata/core/workspace.h"
#include "strata/model/model.h"

namespace {
std::atomic<bool> counting{false};
std::atomic<uint64_t> allocations{0};
}  // namespace

void* operator new(std::size_t bytes) {
  if (counting.load(std::memory_order_relaxed)) allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(bytes ? bytes : 1)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t bytes) { return operator new(bytes); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }

namespace strata::model {
namespace {

class SteadyState : public ::testing::TestWithParam<std::string> {};

TEST_P(SteadyState, HundredMixedStepsAllocateNothing) {
  const auto model = Model::load(std::filesystem::path(STRATA_SOURCE_DIR) / "tests/fixtures/models" / GetParam());
  const int64_t V = model->vocab_size();
  ThreadPool pool(2);
  constexpr int kSequences = 3;
  constexpr int64_t kChunk = 8, kContext = 256;
  constexpr int kDrafts = 3;
  SequenceCache cache = model->make_cache(
      CacheOptions{.max_sequences = kSequences, .max_context = kContext, .speculative_tokens = kDrafts});
  const StepShape shape{.tokens = kChunk + kDrafts + kSequences, .sequences = kSequences,
                        .kept_sequences = kSequences, .kept_length = kDrafts + 1,
                        .logit_rows = kChunk + kDrafts + kSequences};
  Workspace workspace(model->workspace_bytes(shape, pool.size()) +
                          Workspace::rounded(static_cast<size_t>(kSequences * V) * sizeof(float)),
                      Device::cpu);
  const uint64_t growths_after_reserve = workspace.growths();

  std::mt19937 rng(3);
  std::uniform_int_distribution<int32_t> token(0, static_cast<int32_t>(V - 1));
  std::vector<int> slots;
  for (int i = 0; i < kSequences; ++i) slots.push_back(cache.allocate());
  std::vector<int32_t> tokens;
  std::vector<SequenceStep> steps;
  tokens.reserve(static_cast<size_t>(shape.tokens));
  steps.reserve(kSequences);

  // Step i: slot 0 decodes one token; slot 1 decodes, or every third step verifies 1+S tokens keeping
  // their states (rolled back to one accepted draft afterwards); slot 2 takes an 8-token prefill chunk
  // every other step (a fresh sequence whenever it nears the context), else decodes too.
  auto run_step = [&](int i) {
    tokens.clear();
    steps.clear();
    const bool verify = i % 3 == 0;
    steps.push_back(SequenceStep{.slot = slots[0], .length = 1});
    tokens.push_back(token(rng));
    steps.push_back(SequenceStep{.slot = slots[1], .length = verify ? 1 + kDrafts : 1, .all_logits = verify,
                                 .keep_states = verify});
    for (int64_t t = 0; t < steps.back().length; ++t) tokens.push_back(token(rng));
    const int64_t length = i % 2 == 0 ? kChunk : 1;
    steps.push_back(SequenceStep{.slot = slots[2], .length = length});
    for (int64_t t = 0; t < length; ++t) tokens.push_back(token(rng));
    const ForwardBatch batch{.tokens = tokens, .sequences = steps};
    workspace.reset();
    Tensor logits = workspace.take(DType::f32, {Model::logits_rows(batch), V});
    counting = true;
    model->forward(batch, cache, logits, workspace, pool);
    counting = false;
    if (verify) cache.rollback(slots[1], kDrafts, 1);
  };
  for (int i = 0; i < 4; ++i) run_step(i);  // warm-up: first-touch of pages and lazily built tables
  const uint64_t before = allocations.load();
  for (int i = 0; i < 100; ++i) {
    if (cache.position(slots[2]) + kChunk + kDrafts > kContext - 8) {  // start slot 2 afresh near the context end
      cache.free(slots[2]);
      slots[2] = cache.allocate();
    }
    for (int s = 0; s < 2; ++s)
      if (cache.position(slots[static_cast<size_t>(s)]) + 1 + kDrafts > kContext - 8) {
        cache.free(slots[static_cast<size_t>(s)]);
        slots[static_cast<size_t>(s)] = cache.allocate();
      }
    run_step(i);
  }
  EXPECT_EQ(allocations.load() - before, 0u) << "heap allocations inside 100 steady-state forwards";
  EXPECT_EQ(workspace.growths(), growths_after_reserve) << "the workspace grew past Model::workspace_bytes";
}

// The counter itself works (a test that could not fail would prove nothing).
TEST(SteadyState, CounterSeesAllocations) {
  counting = true;
  const uint64_t before = allocations.load();
  auto* p = new std::vector<int>(100);
  counting = false;
  EXPECT_GE(allocations.load() - before, 1u);
  delete p;
}

INSTANTIATE_TEST_SUITE_P(Fixtures, SteadyState,
                         ::testing::Values("mamba2_g1", "mamba2_g2", "nemotron_h_hybrid", "nemotron_h_latent",
                                           "granite_moe_hybrid", "granite_dense_hybrid", "bamba", "falcon_h1_norm",
                                           "falcon_h1_gate", "falcon_h1_norm_first", "zamba2"));

}  // namespace
}  // namespace strata::model
