// CUDA-graph decode: replayed steps compute exactly what eager steps compute (same kernels, same
// addresses), steps with other shapes fall back to eager, and every replay advances the cache.
#include <random>

#include "gpu_model_support.h"
#include "strata/core/memory.h"
#include "strata/core/thread_pool.h"
#include "strata/model/decode_graphs.h"
#include "strata/model/model.h"

namespace strata::model {
namespace {

using testing::gpu;

std::vector<float> step(const Model& model, SequenceCache& cache, Workspace& workspace, const Exec& exec,
                        const std::vector<int32_t>& slots, const std::vector<int32_t>& tokens, DecodeGraphs* graphs) {
  std::vector<SequenceStep> steps;
  for (int32_t slot : slots) steps.push_back({.slot = slot, .length = 1});
  const ForwardBatch batch{.tokens = tokens, .sequences = steps};
  workspace.reset();
  Tensor logits = workspace.take(DType::f32, {Model::logits_rows(batch), model.vocab_size()});
  model.forward(batch, cache, logits, workspace, exec, graphs);
  std::vector<float> host(static_cast<size_t>(logits.numel()));
  copy_memory(host.data(), logits.data, logits.nbytes(), Device::cuda);
  return host;
}

TEST(DecodeGraphs, ReplaysEqualEagerStepsBitForBit) {
  STRATA_REQUIRE_GPU();
  for (const std::string fixture : {"granite_dense_hybrid", "mamba2_g2", "zamba2", "granite_moe_hybrid", "nemotron_h_latent"}) {
    const auto model = Model::load(testing::kFixtures / fixture);
    model->to_device(Precision::fast);
    ThreadPool pool(2);
    const Exec exec(*gpu(), pool);
    CacheOptions options;
    options.max_sequences = 4;
    options.max_context = 128;
    SequenceCache eager_cache = model->make_cache(options), graph_cache = model->make_cache(options);
    Workspace eager_ws(Device::cuda), graph_ws(Device::cuda);
    DecodeGraphs graphs;
    std::vector<int32_t> slots;
    for (int i = 0; i < 3; ++i) {
      slots.push_back(eager_cache.allocate());
      ASSERT_EQ(graph_cache.allocate(), slots.back());
    }
    std::mt19937 rng(5);
    std::uniform_int_distribution<int32_t> token(0, static_cast<int32_t>(model->vocab_size() - 1));
    for (int s = 0; s < 12; ++s) {
      // Batch of 3 most steps; a step of 2 in the middle (another graph) keeps shapes honest.
      std::vector<int32_t> active = s == 6 ? std::vector<int32_t>{slots[2], slots[0]} : slots;
      std::vector<int32_t> tokens;
      for (size_t i = 0; i < active.size(); ++i) tokens.push_back(token(rng));
      const std::vector<float> want = step(*model, eager_cache, eager_ws, exec, active, tokens, nullptr);
      const std::vector<float> got = step(*model, graph_cache, graph_ws, exec, active, tokens, &graphs);
      ASSERT_EQ(want, got) << fixture << " step " << s;
    }
    EXPECT_GE(graphs.captures(), 1u) << fixture;
    EXPECT_GE(graphs.replays(), 8u) << fixture;
    for (int32_t slot : slots) EXPECT_EQ(graph_cache.position(slot), eager_cache.position(slot));
  }
}

}  // namespace
}  // namespace strata::model
