#include "strata/model/perplexity.h"

#include <algorithm>
#include <cmath>

#include "strata/core/memory.h"
#include "strata/core/error.h"

namespace strata::model {

double PerplexityResult::perplexity() const { return std::exp(mean_nll()); }

PerplexityResult perplexity(const Model& model, std::span<const int32_t> ids, const PerplexityOptions& options,
                            const Exec& exec) {
  if (options.window < 2) fail("the perplexity window must hold at least 2 tokens, got {}", options.window);
  if (options.parallel_windows < 1) fail("parallel windows must be >= 1");
  if (options.score_from < 1 || options.score_from >= options.window)
    fail("the first scored token must lie in the window: {} is not in [1, {})", options.score_from, options.window);
  const int64_t V = model.vocab_size(), W = options.window;
  std::vector<std::span<const int32_t>> windows;
  for (size_t begin = 0; begin < ids.size(); begin += static_cast<size_t>(W)) {
    const size_t length = std::min<size_t>(static_cast<size_t>(W), ids.size() - begin);
    if (options.whole_windows_only && length < static_cast<size_t>(W)) break;
    if (length > static_cast<size_t>(options.score_from)) windows.push_back(ids.subspan(begin, length));
    if (options.max_windows > 0 && static_cast<int64_t>(windows.size()) == options.max_windows) break;
  }
  if (windows.empty()) fail("the text is too short to score: {} token(s), need at least 2", ids.size());

  PerplexityResult result;
  result.windows = static_cast<int64_t>(windows.size());
  CacheOptions cache_options;
  cache_options.max_sequences = options.parallel_windows;
  cache_options.max_context = W;
  SequenceCache cache = model.make_cache(cache_options);
  Workspace workspace(model.device());
  std::vector<float> host_logits;
  std::vector<int32_t> packed;
  std::vector<SequenceStep> steps;
  for (size_t first = 0; first < windows.size(); first += static_cast<size_t>(options.parallel_windows)) {
    const size_t count = std::min(windows.size() - first, static_cast<size_t>(options.parallel_windows));
    packed.clear();
    steps.clear();
    std::vector<int> slots;
    for (size_t w = 0; w < count; ++w) {
      slots.push_back(cache.allocate());
      packed.insert(packed.end(), windows[first + w].begin(), windows[first + w].end());
      steps.push_back({.slot = slots.back(), .length = static_cast<int64_t>(windows[first + w].size()), .all_logits = true});
    }
    const ForwardBatch batch{packed, steps};
    workspace.reset();
    Tensor logits = workspace.take(DType::f32, {Model::logits_rows(batch), V});
    model.forward(batch, cache, logits, workspace, exec);
    host_logits.resize(static_cast<size_t>(logits.numel()));
    copy_memory(host_logits.data(), logits.data, logits.nbytes(), model.device());
    int64_t row = 0;
    for (size_t w = 0; w < count; ++w) {
      const auto window = windows[first + w];
      for (size_t t = static_cast<size_t>(options.score_from); t < window.size(); ++t) {
        // -log softmax in double: logsumexp around the row maximum, then minus the target's logit.
        const float* l = host_logits.data() + (row + static_cast<int64_t>(t) - 1) * V;
        const float max = *std::max_element(l, l + V);
        double sum = 0;
        for (int64_t v = 0; v < V; ++v) sum += std::exp(static_cast<double>(l[v]) - max);
        result.nll_sum += std::log(sum) + max - l[window[t]];
        ++result.scored_tokens;
      }
      row += static_cast<int64_t>(window.size());
      result.tokens += static_cast<int64_t>(window.size());
    }
    for (int slot : slots) cache.free(slot);
    if (options.on_progress) options.on_progress(static_cast<int64_t>(first + count), result.windows);
  }
  return result;
}

}  // namespace strata::model
