// Greedy generation with the bundled demo model equals transformers' greedy output token for token
// (models/demo/greedy_reference.json, produced by tools/train_demo.py in float32).
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "strata/engine/engine.h"
#include "strata/model/model.h"
#include "strata/tokenizer/tokenizer.h"

namespace strata::engine {
namespace {

const std::filesystem::path kDemo = std::filesystem::path(STRATA_SOURCE_DIR) / "models/demo";

TEST(DemoGreedy, MatchesTransformersTokenForToken) {
  std::ifstream in(kDemo / "greedy_reference.json");
  const auto ref = nlohmann::json::parse(in);
  const auto prompt = ref["prompt_ids"].get<std::vector<int32_t>>();
  const auto expected = ref["generated_ids"].get<std::vector<int32_t>>();
  // The tokenizer reproduces transformers' prompt ids (BOS from the post-processor).
  const auto tokenizer = tokenizer::Tokenizer::load(kDemo / "tokenizer.json");
  EXPECT_EQ(tokenizer.encode(ref["prompt"].get<std::string>(), true), prompt);

  const auto model = model::Model::load(kDemo);
  Engine engine(*model, EngineOptions{.max_sequences = 2, .max_context = 256, .threads = 2});
  SamplingParams greedy;
  greedy.temperature = 0;
  greedy.max_new_tokens = static_cast<int>(expected.size());
  greedy.ignore_eos = true;
  const Result result = engine.generate(prompt, greedy);
  EXPECT_EQ(result.tokens, expected);
}

}  // namespace
}  // namespace strata::engine
