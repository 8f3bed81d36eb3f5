// Synthetic models (strata bench --synthetic) bind through the same checks as a checkpoint: every tensor
// the architecture needs exists with the right shape, and a forward produces finite logits. The 8B and 2.7B
// shapes are too large for CI; the small ones exercise both families and the MoE path.
#include <cmath>

#include <gtest/gtest.h>

#include "strata/core/error.h"
#include "strata/model/synthetic.h"

namespace strata::model {
namespace {

TEST(Synthetic, SmallModelsBindAndRun) {
  ThreadPool pool(2);
  for (const char* name : {"mamba2-130m", "nemotronh-moe-1b"}) {
    const auto model = synthetic_model(name, pool);
    SequenceCache cache = model->make_cache(CacheOptions{.max_sequences = 1, .max_context = 16});
    const int slot = cache.allocate();
    Workspace ws;
    const std::vector<int32_t> tokens = {1, 2, 3, 4};
    const std::vector<SequenceStep> steps = {{.slot = slot, .length = 4, .all_logits = false}};
    Tensor logits = ws.take(DType::f32, {1, model->vocab_size()});
    model->forward(ForwardBatch{tokens, steps}, cache, logits, ws, pool);
    double sum = 0;
    for (int64_t v = 0; v < model->vocab_size(); ++v) {
      ASSERT_TRUE(std::isfinite(logits.ptr<float>()[v])) << name << " logit " << v;
      sum += std::fabs(logits.ptr<float>()[v]);
    }
    EXPECT_GT(sum, 0.0) << name;
  }
  EXPECT_GT(synthetic_model_names().size(), 4u);
  EXPECT_THROW(synthetic_model("gpt-5", pool), Error);
}

}  // namespace
}  // namespace strata::model
