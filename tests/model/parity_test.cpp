// Parity with transformers: every fixture under tests/fixtures/models (tiny random-weight checkpoints and
// float32 logits computed by transformers 5.17, see tools/make_fixtures.py) through every execution path —
// whole prefill, one-token decode, and chunked prefill with several chunk sizes — within 1e-3 absolute.
#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "strata/core/thread_pool.h"
#include "strata/io/safetensors.h"
#include "strata/model/logits_runner.h"

namespace strata::model {
namespace {

const std::filesystem::path kFixtures = std::filesystem::path(STRATA_SOURCE_DIR) / "tests/fixtures/models";

struct Reference {
  std::vector<int32_t> tokens;
  int64_t batch = 0, length = 0, vocab = 0;
  std::vector<float> logits;
};

Reference load_reference(const std::filesystem::path& dir) {
  Reference r;
  const auto inputs = io::SafetensorsFile::open(dir / "input_ids.safetensors");
  const Tensor ids = inputs.get("input_ids");
  EXPECT_EQ(ids.dtype, DType::i64);
  r.batch = ids.shape[0];
  r.length = ids.shape[1];
  for (int64_t i = 0; i < ids.numel(); ++i) r.tokens.push_back(static_cast<int32_t>(ids.ptr<const int64_t>()[i]));
  const auto outputs = io::SafetensorsFile::open(dir / "logits.safetensors");
  const Tensor logits = outputs.get("logits");
  r.vocab = logits.shape[2];
  r.logits.assign(logits.ptr<const float>(), logits.ptr<const float>() + logits.numel());
  return r;
}

class Parity : public ::testing::TestWithParam<std::string> {};

TEST_P(Parity, EveryModeMatchesTransformers) {
  const std::filesystem::path dir = kFixtures / GetParam();
  const auto model = Model::load(dir);
  const Reference ref = load_reference(dir);
  ASSERT_EQ(ref.vocab, model->vocab_size());
  ThreadPool pool(2);
  const std::string chunk = std::to_string(model->config().dims.mamba.chunk_size > 0 ? model->config().dims.mamba.chunk_size : 8);
  const std::vector<std::string> modes = {"full",      "decode",    "chunked=1",        "chunked=2",
                                         "chunked=5", "chunked=7", "chunked=" + chunk, "chunked=13"};
  for (const std::string& mode : modes) {
    const std::vector<float> got = run_logits(*model, ref.tokens, ref.batch, ref.length, parse_logits_mode(mode), pool);
    ASSERT_EQ(got.size(), ref.logits.size());
    double max_diff = 0;
    for (size_t i = 0; i < got.size(); ++i) max_diff = std::max(max_diff, std::fabs(double(got[i]) - ref.logits[i]));
    std::printf("[parity] %-20s %-11s max |logit diff| = %.3g\n", GetParam().c_str(), mode.c_str(), max_diff);
    EXPECT_LT(max_diff, 1e-3) << GetParam() << " mode " << mode;
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, Parity,
                         ::testing::Values("mamba2_g1", "mamba2_g2", "nemotron_h_hybrid", "nemotron_h_latent",
                                           "granite_moe_hybrid", "granite_dense_hybrid", "bamba", "falcon_h1_norm",
                                           "falcon_h1_gate", "falcon_h1_norm_first", "zamba2"));

}  // namespace
}  // namespace strata::model
