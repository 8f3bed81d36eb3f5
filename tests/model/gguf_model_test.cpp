// GGUF files as models (model/gguf_model.h) against the same models' Hugging Face directories: the
// fixtures under tests/fixtures/gguf were written from tests/fixtures/models by llama.cpp's own gguf-py
// writer in llama.cpp's conventions (tools/make_gguf_fixtures.py: A stored as -exp(A_log), q/k rows
// permuted, experts stacked, norms and conv F32, matrices F32 or BF16). Each must give the logits strata
// computes from the HF directory within 1e-4 in every execution path, and transformers' within 1e-3;
// the derived config must equal the HF one where GGUF records it; bad files are refused by name.
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "strata/core/error.h"
#include "strata/core/thread_pool.h"
#include "strata/io/gguf.h"
#include "strata/io/safetensors.h"
#include "strata/model/gguf_model.h"
#include "strata/model/logits_runner.h"

namespace strata::model {
namespace {

const std::filesystem::path kSource = STRATA_SOURCE_DIR;
const std::filesystem::path kModels = kSource / "tests/fixtures/models";
const std::filesystem::path kGguf = kSource / "tests/fixtures/gguf";

std::vector<int32_t> input_ids(const std::string& fixture, int64_t& batch, int64_t& length) {
  const auto inputs = io::SafetensorsFile::open(kModels / fixture / "input_ids.safetensors");
  const Tensor ids = inputs.get("input_ids");
  batch = ids.shape[0];
  length = ids.shape[1];
  std::vector<int32_t> tokens;
  for (int64_t i = 0; i < ids.numel(); ++i) tokens.push_back(static_cast<int32_t>(ids.ptr<const int64_t>()[i]));
  return tokens;
}

double max_diff(const std::vector<float>& a, const std::vector<float>& b) {
  EXPECT_EQ(a.size(), b.size());
  double d = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) d = std::max(d, std::fabs(double(a[i]) - b[i]));
  return d;
}

struct Case {
  std::string fixture, type;
};

class GgufParity : public ::testing::TestWithParam<Case> {};

TEST_P(GgufParity, LogitsEqualTheHuggingFaceDirectorys) {
  const Case c = GetParam();
  const auto gguf = Model::load(kGguf / (c.fixture + "-" + c.type + ".gguf"));
  const auto hf = Model::load(kModels / c.fixture);
  ASSERT_EQ(gguf->vocab_size(), hf->vocab_size());
  EXPECT_EQ(gguf->parameter_count(), hf->parameter_count());
  int64_t batch = 0, length = 0;
  const std::vector<int32_t> tokens = input_ids(c.fixture, batch, length);
  const auto reference = io::SafetensorsFile::open(kModels / c.fixture / "logits.safetensors");
  const Tensor ref = reference.get("logits");
  const std::vector<float> transformers(ref.ptr<const float>(), ref.ptr<const float>() + ref.numel());
  ThreadPool pool(2);
  for (const std::string mode : {"full", "decode", "chunked=5"}) {
    const std::vector<float> got = run_logits(*gguf, tokens, batch, length, parse_logits_mode(mode), pool);
    const std::vector<float> want = run_logits(*hf, tokens, batch, length, parse_logits_mode(mode), pool);
    const double vs_hf = max_diff(got, want), vs_transformers = max_diff(got, transformers);
    std::printf("[gguf] %-18s %-4s %-10s max |diff| %.3g vs the HF directory, %.3g vs transformers\n",
                c.fixture.c_str(), c.type.c_str(), mode.c_str(), vs_hf, vs_transformers);
    EXPECT_LT(vs_hf, 1e-4) << mode;
    EXPECT_LT(vs_transformers, 1e-3) << mode;
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, GgufParity,
                         ::testing::Values(Case{"mamba2_g1", "f32"}, Case{"mamba2_g1", "bf16"},
                                           Case{"nemotron_h_hybrid", "f32"}, Case{"nemotron_h_hybrid", "bf16"}),
                         [](const auto& info) { return info.param.fixture + "_" + info.param.type; });

// A Q8_0 file (gguf-py's quantizer) runs on its decoded weights: the same logits as the F32 file holding
// gguf-py's decoding of those blocks, and near the unquantized model's.
TEST(GgufQuantized, Q8_0RunsOnExactlyTheDecodedWeights) {
  const auto q8 = Model::load(kGguf / "mamba2_g1-q8_0.gguf");
  const auto decoded = Model::load(kGguf / "mamba2_g1-q8_0-as-f32.gguf");
  const auto original = Model::load(kGguf / "mamba2_g1-f32.gguf");
  int64_t batch = 0, length = 0;
  const std::vector<int32_t> tokens = input_ids("mamba2_g1", batch, length);
  ThreadPool pool(2);
  const auto mode = parse_logits_mode("full");
  const std::vector<float> got = run_logits(*q8, tokens, batch, length, mode, pool);
  const std::vector<float> same = run_logits(*decoded, tokens, batch, length, mode, pool);
  const std::vector<float> unquantized = run_logits(*original, tokens, batch, length, mode, pool);
  EXPECT_EQ(max_diff(got, same), 0.0);
  double scale = 0;
  for (float v : unquantized) scale = std::max(scale, std::fabs(double(v)));
  const double error = max_diff(got, unquantized);
  std::printf("[gguf] mamba2_g1 Q8_0: max |logit diff| %.3g against F32 (%.3g of the scale %.3g)\n", error,
              error / scale, scale);
  EXPECT_GT(error, 0.0);  // the matrices really are quantized
  // A sanity bound only (the exact check is the equality above): Q8_0 moves each weight by up to 1/254
  // of its block's largest, and this fixture's random layers amplify that to 3.6 % of the logit scale.
  EXPECT_LT(error, 0.05 * scale);
}

// What GGUF records of the config comes out as the HF config.json says.
TEST(GgufConfig, MatchesTheHuggingFaceConfig) {
  const auto file = io::GgufFile::open(kGguf / "nemotron_h_hybrid-bf16.gguf");
  const nlohmann::json got = gguf_hf_config(file);
  std::ifstream in(kModels / "nemotron_h_hybrid" / "config.json");
  const nlohmann::json want = nlohmann::json::parse(in);
  EXPECT_EQ(got["model_type"], "nemotron_h");
  EXPECT_EQ(got["hybrid_override_pattern"], "M*-MEM*E");  // the fixture's layers_block_type
  for (const char* key : {"hidden_size", "vocab_size", "num_attention_heads", "num_key_value_heads", "head_dim",
                          "intermediate_size", "mamba_num_heads", "mamba_head_dim", "n_groups", "ssm_state_size",
                          "conv_kernel", "n_routed_experts", "num_experts_per_tok", "moe_intermediate_size",
                          "moe_shared_expert_intermediate_size", "n_shared_experts", "norm_topk_prob", "n_group",
                          "topk_group", "tie_word_embeddings", "use_conv_bias", "max_position_embeddings"})
    EXPECT_EQ(got[key], want[key]) << key;
  EXPECT_FLOAT_EQ(got["routed_scaling_factor"].get<float>(), want["routed_scaling_factor"].get<float>());
  EXPECT_FLOAT_EQ(got["layer_norm_epsilon"].get<float>(), want["layer_norm_epsilon"].get<float>());
  const auto mamba = gguf_hf_config(io::GgufFile::open(kGguf / "mamba2_g1-f32.gguf"));
  EXPECT_EQ(mamba["model_type"], "mamba2");
  EXPECT_EQ(mamba["tie_word_embeddings"], true);  // no output.weight in the file
}

// A copy of a fixture with one byte range replaced, in a temporary file.
std::filesystem::path patched(const std::string& name, const std::string& from, const std::string& to) {
  std::ifstream in(kGguf / "mamba2_g1-f32.gguf", std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const size_t at = bytes.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) bytes.replace(at, from.size(), to);
  const auto path = std::filesystem::temp_directory_path() / ("strata_gguf_" + name + ".gguf");
  std::ofstream(path, std::ios::binary) << bytes;
  return path;
}

void expect_error(const std::filesystem::path& path, const std::string& part) {
  try {
    (void)Model::load(path);
    ADD_FAILURE() << path << " loaded";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
  }
}

TEST(GgufModel, RefusesWhatItCannotRunByName) {
  // Same-length replacements keep the file well formed.
  expect_error(patched("arch", "mamba2.block_count", "mambaX.block_count"), "mamba2.block_count");
  expect_error(patched("tensor", "blk.1.ssm_out.weight", "blk.1.ssm_zzz.weight"), "blk.1.ssm_out.weight");
  {
    std::ifstream in(kGguf / "mamba2_g1-f32.gguf", std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const std::string arch = "general.architecture";
    const size_t at = bytes.find("mamba2", bytes.find(arch) + arch.size());
    bytes.replace(at, 6, "llama2");
    const auto path = std::filesystem::temp_directory_path() / "strata_gguf_llama.gguf";
    std::ofstream(path, std::ios::binary) << bytes;
    expect_error(path, "'llama2' is not supported");
  }
}

}  // namespace
}  // namespace strata::model
