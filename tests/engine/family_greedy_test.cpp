// Greedy generation through the engine (prefill, then the cache token by token) equals transformers'
// `generate` ids for the fixtures of the Granite-4.0-H and Bamba families (meta.json → greedy, written by
// tools/make_fixtures.py with use_cache=True).
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "engine/engine_test_support.h"

namespace strata::engine {
namespace {

class FamilyGreedy : public ::testing::TestWithParam<std::string> {};

TEST_P(FamilyGreedy, EngineIdsEqualTransformersGenerate) {
  std::ifstream in(std::filesystem::path(STRATA_SOURCE_DIR) / "tests/fixtures/models" / GetParam() / "meta.json");
  const nlohmann::json meta = nlohmann::json::parse(in);
  const std::vector<int32_t> prompt = meta["greedy"]["prompt"].get<std::vector<int32_t>>();
  const std::vector<int32_t> want = meta["greedy"]["generated"].get<std::vector<int32_t>>();
  ASSERT_FALSE(want.empty());
  const model::Model& model = testing::fixture_model(GetParam());
  EngineOptions options;
  options.max_sequences = 2;
  options.max_context = 64;
  options.token_budget = 64;
  options.threads = 2;
  Engine engine(model, options);
  const Result result = engine.generate(prompt, testing::greedy(static_cast<int>(want.size())));
  EXPECT_EQ(result.tokens, want);
  // And the plain oracle loop over Model::forward says the same.
  EXPECT_EQ(testing::reference_greedy(model, prompt, static_cast<int>(want.size())), want);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, FamilyGreedy,
                         ::testing::Values("granite_moe_hybrid", "granite_dense_hybrid", "bamba", "falcon_h1_norm",
                                           "falcon_h1_gate", "falcon_h1_norm_first", "zamba2"));

}  // namespace
}  // namespace strata::engine
