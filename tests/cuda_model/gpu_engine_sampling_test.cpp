// The GPU engine samples on the device (DeviceSampler): on the demo model and two fixtures, at
// --precision exact, its tokens follow the CPU engine's for the same requests and seeds, several requests
// with different settings sharing each step. The two engines' logits differ in rounding only (~1e-5), so
// greedy tokens must be equal; a seeded draw may part ways where u falls within that rounding of a
// cumulative boundary, after which the two sequences are different conversations, so the oracle for
// draws is the common prefix: at least 90 % of the tokens. Log-probabilities of the common prefix agree
// to 1e-3, as the logits do.
#include <filesystem>
#include <fstream>
#include <random>

#include <nlohmann/json.hpp>

#include "gpu_model_support.h"
#include "strata/engine/engine.h"
#include "strata/model/model.h"

namespace strata::engine {
namespace {

using testing::gpu;

// The demo model (MoE and attention layers) and two fixtures without MoE (Mamba2 alone; Bamba's Mamba2 +
// attention), so the sampling path is covered whichever layers the GPU runs today.
const std::vector<std::string>& model_dirs() {
  static const std::vector<std::string> dirs = {"models/demo", "tests/fixtures/models/mamba2_g1",
                                                "tests/fixtures/models/bamba"};
  return dirs;
}

// 36 tokens (two prefill chunks of 32): for the demo model the reference prompt followed by its greedy
// answer, real text; for a fixture random ids.
std::vector<int32_t> long_prompt(const std::filesystem::path& dir, int64_t vocab) {
  std::vector<int32_t> prompt;
  if (std::filesystem::exists(dir / "greedy_reference.json")) {
    std::ifstream in(dir / "greedy_reference.json");
    const auto ref = nlohmann::json::parse(in);
    prompt = ref["prompt_ids"].get<std::vector<int32_t>>();
    for (int32_t t : ref["generated_ids"].get<std::vector<int32_t>>()) prompt.push_back(t);
  }
  std::mt19937 rng(5);
  std::uniform_int_distribution<int32_t> token(3, static_cast<int32_t>(vocab - 1));
  while (prompt.size() < 36) prompt.push_back(token(rng));
  prompt.resize(36);
  return prompt;
}

struct Run {
  std::vector<int32_t> tokens;
  std::vector<float> logprobs;
  std::vector<std::vector<TokenLogprob>> top;
  FinishReason reason = FinishReason::error;
  std::string message;
};

// Every request submitted at once, so they share steps (prefill and decode rows in one forward).
std::vector<Run> generate_all(const model::Model& model, CudaContext* cuda,
                              const std::vector<std::pair<std::vector<int32_t>, SamplingParams>>& requests) {
  Engine engine(model, EngineOptions{.max_sequences = 4, .max_context = 512, .prefill_chunk = 32, .threads = 2, .cuda = cuda});
  std::vector<Run> runs(requests.size());
  for (size_t i = 0; i < requests.size(); ++i) {
    Request request;
    request.prompt = requests[i].first;
    request.sampling = requests[i].second;
    request.callback = [&runs, i](const Event& event) {
      Run& run = runs[i];
      if (event.kind == Event::Kind::token) {
        run.tokens.push_back(event.token);
        run.logprobs.push_back(event.logprob);
        run.top.push_back(event.top_logprobs);
      } else {
        run.reason = event.reason;
        run.message = event.message;
      }
    };
    engine.submit(std::move(request));
  }
  engine.run_until_idle();
  return runs;
}

size_t common_prefix(const std::vector<int32_t>& a, const std::vector<int32_t>& b) {
  size_t n = 0;
  while (n < a.size() && n < b.size() && a[n] == b[n]) ++n;
  return n;
}

SamplingParams params(float temperature, uint64_t seed) {
  SamplingParams p;
  p.temperature = temperature;
  p.seed = seed;
  p.max_new_tokens = 64;
  p.ignore_eos = true;
  return p;
}

void expect_follows(const Run& gpu_run, const Run& cpu_run, bool exact, const std::string& what) {
  ASSERT_EQ(gpu_run.reason, FinishReason::length) << what << ": " << gpu_run.message;
  ASSERT_EQ(cpu_run.reason, FinishReason::length) << what << ": " << cpu_run.message;
  ASSERT_EQ(gpu_run.tokens.size(), 64u) << what;
  const size_t common = common_prefix(gpu_run.tokens, cpu_run.tokens);
  if (exact) {
    EXPECT_EQ(gpu_run.tokens, cpu_run.tokens) << what;
  } else {
    if (common < gpu_run.tokens.size())
      std::printf("[gpu engine sampling] %s: the engines part at token %zu of 64\n", what.c_str(), common);
    EXPECT_GE(common, 58u) << what << ": the GPU engine's draws left the CPU engine's at token " << common;
  }
  for (size_t t = 0; t < common; ++t) {
    EXPECT_NEAR(gpu_run.logprobs[t], cpu_run.logprobs[t], 1e-3) << what << " token " << t;
    ASSERT_EQ(gpu_run.top[t].size(), cpu_run.top[t].size()) << what;
    for (size_t k = 0; k < cpu_run.top[t].size(); ++k)
      EXPECT_NEAR(gpu_run.top[t][k].logprob, cpu_run.top[t][k].logprob, 1e-3) << what << " token " << t << " rank " << k;
  }
}

class GpuEngineSampling : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (gpu() == nullptr) return;
    const std::filesystem::path dir = std::filesystem::path(STRATA_SOURCE_DIR) / GetParam();
    cpu_model_ = model::Model::load(dir);
    gpu_model_ = model::Model::load(dir);
    gpu_model_->to_device(model::Precision::exact);
    prompt_ = long_prompt(dir, cpu_model_->vocab_size());
  }
  std::unique_ptr<model::Model> cpu_model_, gpu_model_;
  std::vector<int32_t> prompt_;
};

TEST_P(GpuEngineSampling, GreedyEqualsTheCpuEngine) {
  STRATA_REQUIRE_GPU();
  SamplingParams greedy = params(0.0f, 1);
  SamplingParams greedy_penalised = greedy;
  greedy_penalised.repetition_penalty = 1.3f;
  greedy_penalised.frequency_penalty = 0.4f;
  greedy_penalised.logprobs = 5;
  const std::vector<int32_t> short_prompt(prompt_.begin(), prompt_.begin() + 3);
  const std::vector<std::pair<std::vector<int32_t>, SamplingParams>> requests = {
      {prompt_, greedy}, {prompt_, greedy_penalised}, {short_prompt, greedy}};
  const auto on_gpu = generate_all(*gpu_model_, gpu(), requests);
  const auto on_cpu = generate_all(*cpu_model_, nullptr, requests);
  for (size_t i = 0; i < requests.size(); ++i) expect_follows(on_gpu[i], on_cpu[i], true, "greedy request " + std::to_string(i));
}

TEST_P(GpuEngineSampling, SeededDrawsFollowTheCpuEngine) {
  STRATA_REQUIRE_GPU();
  std::vector<std::pair<std::vector<int32_t>, SamplingParams>> requests;
  for (uint64_t seed : {11u, 12u}) {
    requests.push_back({prompt_, params(1.0f, seed)});
    SamplingParams filtered = params(0.8f, seed);
    filtered.top_k = 40;
    filtered.top_p = 0.95f;
    filtered.logprobs = 3;
    requests.push_back({prompt_, filtered});
    SamplingParams nucleus = params(1.2f, seed);
    nucleus.top_p = 0.9f;
    nucleus.min_p = 0.02f;
    nucleus.repetition_penalty = 1.15f;
    nucleus.presence_penalty = 0.3f;
    requests.push_back({prompt_, nucleus});
    SamplingParams min_p = params(1.0f, seed);
    min_p.min_p = 0.1f;
    min_p.frequency_penalty = 0.5f;
    requests.push_back({std::vector<int32_t>(prompt_.begin(), prompt_.begin() + 5), min_p});
  }
  const auto on_gpu = generate_all(*gpu_model_, gpu(), requests);
  const auto on_cpu = generate_all(*cpu_model_, nullptr, requests);
  for (size_t i = 0; i < requests.size(); ++i) expect_follows(on_gpu[i], on_cpu[i], false, "seeded request " + std::to_string(i));
  // The same seeds again on the GPU give the same tokens (nothing in the device path depends on timing).
  const auto again = generate_all(*gpu_model_, gpu(), requests);
  for (size_t i = 0; i < requests.size(); ++i) EXPECT_EQ(again[i].tokens, on_gpu[i].tokens) << "request " << i;
}

INSTANTIATE_TEST_SUITE_P(Models, GpuEngineSampling, ::testing::ValuesIn(model_dirs()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           return std::filesystem::path(info.param).filename().string();
                         });

}  // namespace
}  // namespace strata::engine
