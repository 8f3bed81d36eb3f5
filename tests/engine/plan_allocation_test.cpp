// The memory planner (`strata plan`, schedule::plan_memory) and what an Engine actually allocates for
// the same options are one figure: the Mamba state pools and the KV pools sized for max_sequences
// sequences of max_context tokens, at the same dtypes.
#include <gtest/gtest.h>

#include "engine/engine_test_support.h"
#include "strata/schedule/memory_plan.h"

namespace strata::engine {
namespace {

struct Case {
  const char* fixture;
  DType state_dtype, kv_dtype;
};

class PlanEqualsAllocation : public ::testing::TestWithParam<Case> {};

TEST_P(PlanEqualsAllocation, ForTheSameOptions) {
  const Case c = GetParam();
  const model::Model& model = testing::fixture_model(c.fixture);
  EngineOptions options;
  options.max_sequences = 3;
  options.max_context = 96;  // a multiple of kv_block_size: the plan counts tokens, the cache whole blocks
  options.kv_block_size = 16;
  options.token_budget = 64;
  options.threads = 1;
  options.state_dtype = c.state_dtype;
  options.kv_dtype = c.kv_dtype;
  const Engine engine(model, options);

  schedule::ModelDims dims = model.config().dims;
  dims.state_dtype = c.state_dtype;
  dims.cache_dtype = c.kv_dtype;
  const schedule::MemoryPlan plan =
      schedule::plan_memory(model.config().schedule, dims, options.max_context, options.max_sequences);
  EXPECT_EQ(static_cast<size_t>(plan.total_bytes), engine.cache_bytes());
  // And the cache's own sizing function says the same before anything is allocated.
  EXPECT_EQ(model.cache_plan(cache_options(options)).total_bytes(), engine.cache_bytes());
  EXPECT_GT(engine.cache_bytes(), 0u);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, PlanEqualsAllocation,
                         ::testing::Values(Case{"mamba2_g1", DType::f32, DType::f32},
                                           Case{"mamba2_g2", DType::bf16, DType::f32},
                                           Case{"nemotron_h_hybrid", DType::f32, DType::f32},
                                           Case{"nemotron_h_hybrid", DType::bf16, DType::bf16},
                                           Case{"nemotron_h_latent", DType::f32, DType::bf16}));

}  // namespace
}  // namespace strata::engine
