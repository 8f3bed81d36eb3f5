// Perplexity of a model over a token sequence: the ids are cut into non-overlapping windows of `window`
// tokens, each window runs from an empty state, and every token after a window's first is scored with
// -log softmax(logits of the previous position)[token]. Windows run several at a time as one packed batch.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "strata/model/model.h"

namespace strata::model {

struct PerplexityResult {
  int64_t tokens = 0;         // ids considered (all windows)
  int64_t windows = 0;
  int64_t scored_tokens = 0;
  double nll_sum = 0;
  double mean_nll() const { return scored_tokens ? nll_sum / static_cast<double>(scored_tokens) : 0.0; }
  double perplexity() const;
};

struct PerplexityOptions {
  int64_t window = 256;
  int64_t max_windows = 0;  // 0: all
  int parallel_windows = 4; // windows run together in one step
  // Where scoring starts in each window: token score_from is the first predicted (1: every token after the
  // first). llama-perplexity's definition is score_from = window / 2 + 1 with whole windows only.
  int64_t score_from = 1;
  bool whole_windows_only = false;  // drop a shorter last window
  // Called after each batch of windows with the windows scored so far and in all (progress display).
  std::function<void(int64_t done, int64_t total)> on_progress;
};

// Throws strata::Error when no window has two tokens or an id is outside the vocabulary.
PerplexityResult perplexity(const Model& model, std::span<const int32_t> ids, const PerplexityOptions& options,
                            const Exec& exec);

}  // namespace strata::model
