#include "strata/model/mlp_layer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "ffn_oracle.h"
#include "strata/core/error.h"

namespace strata::model {
namespace {

using oracle::Mlp;

ThreadPool& test_pool() {
  static ThreadPool pool(2);
  return pool;
}

void check_mlp(int64_t tokens, int64_t hidden, int64_t inter, MlpActivation act, DType dtype, bool biases,
               bool accumulate) {
  SCOPED_TRACE(std::string(mlp_activation_name(act)) + " " + std::string(dtype_name(dtype)) +
               " T=" + std::to_string(tokens) + (biases ? " bias" : "") + (accumulate ? " accumulate" : ""));
  Mlp mlp(hidden, inter, act, dtype, biases, 11);
  std::mt19937 rng(12);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(tokens * hidden)), out(x.size());
  for (auto& v : x) v = dist(rng);
  // Without accumulate the output starts as NaN: any read of it shows.
  for (auto& v : out) v = accumulate ? dist(rng) : std::numeric_limits<float>::quiet_NaN();
  const std::vector<float> before = out;
  Tensor xt = Tensor::contiguous(x.data(), DType::f32, {tokens, hidden});
  Tensor ot = Tensor::contiguous(out.data(), DType::f32, {tokens, hidden});
  Workspace ws;
  mlp_forward(mlp.weights, act, xt, ot, ws, test_pool(), accumulate);
  for (int64_t t = 0; t < tokens; ++t) {
    const std::vector<double> want = mlp.reference(x.data() + t * hidden);
    for (int64_t c = 0; c < hidden; ++c) {
      const double expected = want[c] + (accumulate ? before[t * hidden + c] : 0.0);
      ASSERT_NEAR(out[t * hidden + c], expected, 2e-5 + 2e-5 * std::abs(expected))
          << "token " << t << " col " << c;
    }
  }
}

TEST(MlpLayer, Relu2MatchesNaiveLoops) {
  for (int64_t tokens : {1, 5, 33})
    for (DType dtype : {DType::f32, DType::bf16})
      check_mlp(tokens, 48, 80, MlpActivation::relu2, dtype, false, false);
}

TEST(MlpLayer, SiluGatedWithBiasesMatchesNaiveLoops) {
  check_mlp(3, 40, 72, MlpActivation::silu_gated, DType::bf16, true, false);
  check_mlp(17, 40, 72, MlpActivation::silu_gated, DType::f32, true, false);
}

TEST(MlpLayer, GeluAndF16MatchNaiveLoops) {
  check_mlp(6, 32, 50, MlpActivation::gelu, DType::f16, true, false);
}

TEST(MlpLayer, AccumulateAddsToTheResidual) {
  check_mlp(4, 48, 64, MlpActivation::relu2, DType::bf16, true, true);
  check_mlp(20, 48, 64, MlpActivation::silu_gated, DType::f32, false, true);
}

TEST(MlpLayer, LargeBlockRunsTheActivationOnThePool) {
  check_mlp(70, 64, 1024, MlpActivation::silu_gated, DType::bf16, false, false);  // 71680 activations
}

TEST(MlpLayer, ZeroTokensLeaveTheOutputAlone) {
  Mlp mlp(16, 24, MlpActivation::relu2, DType::f32, false, 1);
  Tensor xt = Tensor::contiguous(nullptr, DType::f32, {0, 16});
  Tensor ot = Tensor::contiguous(nullptr, DType::f32, {0, 16});
  Workspace ws;
  EXPECT_NO_THROW(mlp_forward(mlp.weights, MlpActivation::relu2, xt, ot, ws, test_pool()));
}

TEST(MlpLayer, RejectsMismatchedWeightsAndActivations) {
  auto expect_error = [](const MlpWeights& w, MlpActivation act, int64_t hidden, const char* what) {
    try {
      check_mlp(w, act, hidden, "layers.7.mixer");
      ADD_FAILURE() << "accepted: " << what;
    } catch (const Error& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find(what), std::string::npos) << msg;
      EXPECT_NE(msg.find("layers.7.mixer"), std::string::npos) << msg;
    }
  };
  Mlp relu(16, 24, MlpActivation::relu2, DType::bf16, true, 1);
  Mlp gated(16, 24, MlpActivation::silu_gated, DType::bf16, false, 2);
  EXPECT_NO_THROW(check_mlp(relu.weights, MlpActivation::relu2, 16, "x"));
  expect_error(relu.weights, MlpActivation::relu2, 20, "up_proj.weight");
  expect_error(relu.weights, MlpActivation::silu_gated, 16, "gate_proj.weight");
  expect_error(gated.weights, MlpActivation::relu2, 16, "not gated");
  MlpWeights w = relu.weights;
  w.down = gated.weights.gate;  // [24, 16] where [16, 24] is wanted
  expect_error(w, MlpActivation::relu2, 16, "down_proj.weight");
  w = relu.weights;
  w.up_bias = relu.weights.down_bias;  // [16] where [24] is wanted
  expect_error(w, MlpActivation::relu2, 16, "up_proj.bias");
  w = relu.weights;
  w.up = Tensor{};
  expect_error(w, MlpActivation::relu2, 16, "up_proj.weight");

  std::vector<float> x(2 * 16), out(3 * 16);
  Tensor xt = Tensor::contiguous(x.data(), DType::f32, {2, 16});
  Tensor ot = Tensor::contiguous(out.data(), DType::f32, {3, 16});
  Workspace ws;
  EXPECT_THROW(mlp_forward(relu.weights, MlpActivation::relu2, xt, ot, ws, test_pool()), Error);
}

}  // namespace
}  // namespace strata::model
