// The packing rule alone: decodes first, prefill chunks in order, chunk ends on absolute multiples of
// prefill_chunk, never more tokens than the budget.
#include "strata/engine/step_plan.h"

#include <random>

#include <gtest/gtest.h>

namespace strata::engine {
namespace {

TEST(StepPlan, DecodesFirstThenChunksAlignedToBoundaries) {
  const std::vector<SequenceProgress> s = {
      {.fed = 0, .prompt_length = 100},  // fresh prompt: first chunk ends at 16
      {.fed = 7, .prompt_length = 7},    // decoding
      {.fed = 20, .prompt_length = 40},  // restored at 20: realigns to 32
      {.fed = 9, .prompt_length = 9},    // decoding
  };
  const auto plan = plan_step(s, 100, 16);
  ASSERT_EQ(plan.size(), 4u);
  EXPECT_EQ(plan[0].index, 1u);
  EXPECT_TRUE(plan[0].decode);
  EXPECT_EQ(plan[1].index, 3u);
  EXPECT_TRUE(plan[1].decode);
  EXPECT_EQ(plan[2].index, 0u);
  EXPECT_EQ(plan[2].length, 16);
  EXPECT_EQ(plan[3].index, 2u);
  EXPECT_EQ(plan[3].length, 12);
}

TEST(StepPlan, BudgetCutsAChunkAndLaterSequencesWait) {
  const std::vector<SequenceProgress> s = {{.fed = 0, .prompt_length = 64}, {.fed = 0, .prompt_length = 64},
                                           {.fed = 5, .prompt_length = 5}};
  const auto plan = plan_step(s, 20, 16);
  ASSERT_EQ(plan.size(), 3u);
  EXPECT_TRUE(plan[0].decode);
  EXPECT_EQ(plan[1].length, 16);
  EXPECT_EQ(plan[2].index, 1u);
  EXPECT_EQ(plan[2].length, 3);  // what is left of the budget; the next chunk ends on 16 again
  EXPECT_EQ(plan_step(std::vector<SequenceProgress>{{.fed = 3, .prompt_length = 64}}, 100, 16)[0].length, 13);
}

TEST(StepPlan, RandomInputsKeepEveryInvariant) {
  std::mt19937 rng(7);
  for (int trial = 0; trial < 2000; ++trial) {
    const int n = std::uniform_int_distribution<int>(0, 8)(rng);
    const int64_t chunk = std::uniform_int_distribution<int64_t>(1, 32)(rng);
    std::vector<SequenceProgress> s;
    int decoding = 0;
    for (int i = 0; i < n; ++i) {
      const int64_t prompt = std::uniform_int_distribution<int64_t>(1, 200)(rng);
      const int64_t fed = std::uniform_int_distribution<int64_t>(0, prompt)(rng);
      decoding += fed == prompt;
      s.push_back({.fed = fed, .prompt_length = prompt});
    }
    const int64_t budget = decoding + std::uniform_int_distribution<int64_t>(0, 100)(rng);
    const auto plan = plan_step(s, budget, chunk);
    int64_t total = 0;
    bool seen_prefill = false;
    std::vector<int> used(static_cast<size_t>(n), 0);
    int decodes = 0;
    for (const PlannedStep& p : plan) {
      const SequenceProgress& q = s[p.index];
      ASSERT_EQ(used[p.index]++, 0) << "a sequence appears twice";
      ASSERT_GT(p.length, 0);
      total += p.length;
      if (p.decode) {
        ASSERT_FALSE(seen_prefill) << "decode after a prefill chunk";
        ASSERT_EQ(p.length, 1);
        ASSERT_EQ(q.fed, q.prompt_length);
        ++decodes;
      } else {
        seen_prefill = true;
        const int64_t end = q.fed + p.length;
        ASSERT_LE(end, q.prompt_length);
        ASSERT_LE(end, (q.fed / chunk + 1) * chunk) << "chunk crosses a boundary";
        // A chunk stops short of its boundary and the prompt end only when the budget ran out.
        if (end != q.prompt_length && end % chunk != 0) {
          ASSERT_EQ(total, budget);
        }
      }
    }
    ASSERT_EQ(decodes, decoding);
    ASSERT_LE(total, budget);
    // Work is left undone only when the budget is spent.
    bool waiting = false;
    for (int i = 0; i < n; ++i) waiting |= used[static_cast<size_t>(i)] == 0;
    if (waiting) {
      ASSERT_EQ(total, budget);
    }
  }
}

}  // namespace
}  // namespace strata::engine
