// Which tokens perplexity() scores (model/perplexity.h): every token after a window's first by default;
// with score_from and whole_windows_only, llama-perplexity's definition (whole windows, the second half).
// The oracle is -log softmax computed here from run_logits over each window.
#include <cmath>
#include <filesystem>
#include <vector>

#include <gtest/gtest.h>

#include "strata/core/error.h"
#include "strata/core/thread_pool.h"
#include "strata/io/safetensors.h"
#include "strata/model/logits_runner.h"
#include "strata/model/perplexity.h"

namespace strata::model {
namespace {

const std::filesystem::path kFixture = std::filesystem::path(STRATA_SOURCE_DIR) / "tests/fixtures/models/mamba2_g1";

// NLL of window tokens [from, W) of `ids` split in windows of W (whole windows only when asked).
double oracle_nll(const Model& model, const std::vector<int32_t>& ids, int64_t W, int64_t from, bool whole,
                  int64_t& scored, ThreadPool& pool) {
  double nll = 0;
  scored = 0;
  const int64_t V = model.vocab_size();
  for (size_t begin = 0; begin < ids.size(); begin += static_cast<size_t>(W)) {
    const int64_t length = std::min<int64_t>(W, static_cast<int64_t>(ids.size() - begin));
    if ((whole && length < W) || length <= from) break;
    const std::vector<int32_t> window(ids.begin() + static_cast<long>(begin), ids.begin() + static_cast<long>(begin) + length);
    const std::vector<float> logits = run_logits(model, window, 1, length, parse_logits_mode("full"), pool);
    for (int64_t t = from; t < length; ++t) {
      const float* l = logits.data() + (t - 1) * V;
      double max = l[0], sum = 0;
      for (int64_t v = 1; v < V; ++v) max = std::max(max, double(l[v]));
      for (int64_t v = 0; v < V; ++v) sum += std::exp(double(l[v]) - max);
      nll += std::log(sum) + max - l[window[static_cast<size_t>(t)]];
      ++scored;
    }
  }
  return nll;
}

TEST(PerplexityScoring, DefaultAndLlamaCppDefinitionsScoreTheTokensTheySay) {
  const auto model = Model::load(kFixture);
  const auto inputs = io::SafetensorsFile::open(kFixture / "input_ids.safetensors");
  const Tensor t = inputs.get("input_ids");
  std::vector<int32_t> ids;
  for (int64_t i = 0; i < t.numel(); ++i) ids.push_back(static_cast<int32_t>(t.ptr<const int64_t>()[i]));
  ASSERT_GT(ids.size(), 40u);
  ThreadPool pool(2);
  const int64_t W = 16;
  PerplexityOptions options;
  options.window = W;
  int64_t scored = 0;
  const PerplexityResult plain = perplexity(*model, ids, options, pool);
  const double plain_oracle = oracle_nll(*model, ids, W, 1, false, scored, pool);
  EXPECT_EQ(plain.scored_tokens, scored);
  EXPECT_NEAR(plain.nll_sum, plain_oracle, 1e-6 * std::fabs(plain_oracle));

  options.score_from = W / 2 + 1;
  options.whole_windows_only = true;
  const PerplexityResult llama = perplexity(*model, ids, options, pool);
  const double llama_oracle = oracle_nll(*model, ids, W, W / 2 + 1, true, scored, pool);
  EXPECT_EQ(llama.scored_tokens, scored);
  EXPECT_EQ(llama.scored_tokens, static_cast<int64_t>(ids.size() / W) * (W - W / 2 - 1));
  EXPECT_NEAR(llama.nll_sum, llama_oracle, 1e-6 * std::fabs(llama_oracle));

  options.score_from = W;  // outside the window
  EXPECT_THROW(perplexity(*model, ids, options, pool), Error);
}

}  // namespace
}  // namespace strata::model
