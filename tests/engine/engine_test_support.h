// Shared by the engine tests: fixture models (loaded once), random prompts, greedy parameters, and the
// oracle every engine output is compared with — a plain loop over Model::forward for one sequence alone
// (whole-prompt prefill, then one token per step, argmax with the lowest id on ties).
#pragma once

#include <algorithm>
#include <filesystem>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "strata/core/error.h"
#include "strata/engine/engine.h"
#include "strata/model/model.h"

namespace strata::engine::testing {

inline const model::Model& fixture_model(const std::string& name) {
  static std::map<std::string, std::unique_ptr<model::Model>> models;
  auto& slot = models[name];
  if (!slot) slot = model::Model::load(std::filesystem::path(STRATA_SOURCE_DIR) / "tests/fixtures/models" / name);
  return *slot;
}

inline std::vector<int32_t> random_prompt(std::mt19937& rng, int64_t length, int64_t vocab) {
  std::uniform_int_distribution<int32_t> token(3, static_cast<int32_t>(vocab - 1));
  std::vector<int32_t> prompt(static_cast<size_t>(length));
  for (auto& t : prompt) t = token(rng);
  return prompt;
}

inline SamplingParams greedy(int max_new_tokens) {
  SamplingParams p;
  p.temperature = 0;
  p.max_new_tokens = max_new_tokens;
  p.ignore_eos = true;
  return p;
}

inline std::vector<int32_t> reference_greedy(const model::Model& model, const std::vector<int32_t>& prompt,
                                             int max_new_tokens) {
  model::CacheOptions options;
  options.max_sequences = 1;
  options.max_context = static_cast<int64_t>(prompt.size()) + max_new_tokens;
  model::SequenceCache cache = model.make_cache(options);
  const int slot = cache.allocate();
  Workspace workspace;
  ThreadPool pool(2);
  const int64_t V = model.vocab_size();
  std::vector<int32_t> out, feed = prompt;
  for (int i = 0; i < max_new_tokens; ++i) {
    const model::SequenceStep step{.slot = slot, .length = static_cast<int64_t>(feed.size()), .all_logits = false};
    const model::ForwardBatch batch{.tokens = feed, .sequences = std::span(&step, 1)};
    workspace.reset();
    Tensor logits = workspace.take(DType::f32, {1, V});
    model.forward(batch, cache, logits, workspace, pool);
    const float* row = logits.ptr<float>();
    const int32_t next = static_cast<int32_t>(std::max_element(row, row + V) - row);
    out.push_back(next);
    feed = {next};
  }
  return out;
}

}  // namespace strata::engine::testing
