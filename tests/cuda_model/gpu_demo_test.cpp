// The bundled demo model on the GPU's fast path: its 32 greedy tokens equal transformers' (the
// reference the CPU test uses) and its held-out perplexity is within 0.5 % of the CPU's.
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "gpu_model_support.h"
#include "strata/core/thread_pool.h"
#include "strata/engine/engine.h"
#include "strata/model/model.h"
#include "strata/model/perplexity.h"
#include "strata/tokenizer/tokenizer.h"

namespace strata::engine {
namespace {

using testing::gpu;

const std::filesystem::path kDemo = std::filesystem::path(STRATA_SOURCE_DIR) / "models/demo";

TEST(GpuDemo, GreedyTokensEqualTransformersOnTheFastPath) {
  STRATA_REQUIRE_GPU();
  std::ifstream in(kDemo / "greedy_reference.json");
  const auto ref = nlohmann::json::parse(in);
  const auto prompt = ref["prompt_ids"].get<std::vector<int32_t>>();
  const auto expected = ref["generated_ids"].get<std::vector<int32_t>>();
  for (model::Precision precision : {model::Precision::fast, model::Precision::exact}) {
    const auto model = model::Model::load(kDemo);
    model->to_device(precision);
    Engine engine(*model, EngineOptions{.max_sequences = 2, .max_context = 256, .threads = 2, .cuda = gpu()});
    SamplingParams greedy;
    greedy.temperature = 0;
    greedy.max_new_tokens = static_cast<int>(expected.size());
    greedy.ignore_eos = true;
    const Result result = engine.generate(prompt, greedy);
    EXPECT_EQ(result.tokens, expected) << model::precision_name(precision);
  }
}

TEST(GpuDemo, HeldOutPerplexityWithinHalfAPercentOfTheCpu) {
  STRATA_REQUIRE_GPU();
  std::ifstream in(kDemo / "heldout.txt", std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  const auto tokenizer = tokenizer::Tokenizer::load(kDemo / "tokenizer.json");
  std::vector<int32_t> ids = tokenizer.encode(text.str(), true);
  ThreadPool pool(2);
  model::PerplexityOptions options;
  options.window = 256;
  options.max_windows = 40;
  options.parallel_windows = 8;
  const auto cpu_model = model::Model::load(kDemo);
  const double cpu = model::perplexity(*cpu_model, ids, options, pool).perplexity();
  const auto gpu_model = model::Model::load(kDemo);
  gpu_model->to_device(model::Precision::fast);
  const double fast = model::perplexity(*gpu_model, ids, options, Exec(*gpu(), pool)).perplexity();
  std::printf("[gpu demo] perplexity cpu %.4f  gpu fast %.4f  (%.3f %%)\n", cpu, fast, 100 * (fast - cpu) / cpu);
  EXPECT_LT(std::fabs(fast - cpu) / cpu, 0.005);
}

}  // namespace
}  // namespace strata::engine
