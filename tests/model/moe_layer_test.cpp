#include "strata/model/moe_layer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "ffn_oracle.h"
#include "strata/core/error.h"

namespace strata::model {
namespace {

using oracle::Mlp;
using oracle::Stored;

ThreadPool& test_pool() {
  static ThreadPool pool(2);
  return pool;
}

struct Shape {
  int64_t hidden = 32, experts = 8, expert_inter = 24, shared_inter = 40, latent = 0;
  DType dtype = DType::bf16;
  MoeConfig config;
  bool shared = true, bias = true;
};

// A whole MoE layer with oracle weights, and the per-token reference forward.
struct Layer {
  Shape shape;
  Stored router, correction_bias, latent_in, latent_out;
  std::vector<Mlp> experts;
  std::optional<Mlp> shared;
  std::vector<int32_t> table;
  MoeWeights weights;

  explicit Layer(const Shape& s, uint32_t seed = 21) : shape(s) {
    std::mt19937 rng(seed);
    const int64_t width = s.latent > 0 ? s.latent : s.hidden;
    router = Stored(s.experts, s.hidden, s.dtype, rng, 1.0f);
    weights.router = router.tensor();
    if (s.bias) {
      correction_bias = Stored(s.experts, 0, DType::f32, rng, 0.3f);
      weights.correction_bias = correction_bias.tensor();
    }
    if (s.latent > 0) {
      latent_in = Stored(s.latent, s.hidden, s.dtype, rng, 2.0f / std::sqrt(static_cast<float>(s.hidden)));
      latent_out = Stored(s.hidden, s.latent, s.dtype, rng, 2.0f / std::sqrt(static_cast<float>(s.latent)));
      weights.latent_in = latent_in.tensor();
      weights.latent_out = latent_out.tensor();
    }
    experts.reserve(static_cast<size_t>(s.experts));
    for (int64_t e = 0; e < s.experts; ++e)
      experts.emplace_back(width, s.expert_inter, s.config.expert_activation, s.dtype, false,
                           seed + 100 + static_cast<uint32_t>(e));
    for (Mlp& m : experts) weights.experts.push_back(m.weights);
    if (s.shared) {
      shared.emplace(s.hidden, s.shared_inter, s.config.shared_activation, s.dtype, false, seed + 7);
      weights.shared = shared->weights;
    }
    if (s.config.routing.mode == kernels::RoutingMode::hash) {
      const int64_t vocab = 50, k = s.config.routing.top_k;
      for (int64_t v = 0; v < vocab; ++v)
        for (int64_t j = 0; j < k; ++j) table.push_back(static_cast<int32_t>((v * 3 + j * 5) % s.experts));
      weights.hash_table = Tensor::contiguous(table.data(), DType::i32, {vocab, k});
    }
  }

  // Routing of every token, from logits computed in double (then f32, as the router produces them).
  void route(const std::vector<float>& x, const std::vector<int32_t>& token_ids, std::vector<int32_t>& ids,
             std::vector<float>& mix) const {
    const int64_t tokens = static_cast<int64_t>(x.size()) / shape.hidden, k = shape.config.routing.top_k;
    std::vector<float> logits(static_cast<size_t>(tokens * shape.experts));
    for (int64_t t = 0; t < tokens; ++t)
      for (int64_t e = 0; e < shape.experts; ++e) {
        double v = 0;
        for (int64_t c = 0; c < shape.hidden; ++c) v += router.at(e, c) * x[t * shape.hidden + c];
        logits[t * shape.experts + e] = static_cast<float>(v);
      }
    ids.assign(static_cast<size_t>(tokens * k), -1);
    mix.assign(static_cast<size_t>(tokens * k), 0.0f);
    Tensor lt = Tensor::contiguous(logits.data(), DType::f32, {tokens, shape.experts});
    Tensor it = Tensor::contiguous(ids.data(), DType::i32, {tokens, k});
    Tensor mt = Tensor::contiguous(mix.data(), DType::f32, {tokens, k});
    Tensor tid = Tensor::contiguous(const_cast<int32_t*>(token_ids.data()), DType::i32, {tokens});
    kernels::RoutingTables tables;
    if (shape.bias) tables.correction_bias = &weights.correction_bias;
    if (!table.empty()) {
      tables.hash_table = &weights.hash_table;
      tables.token_ids = &tid;
    }
    std::vector<unsigned char> scratch(kernels::moe_routing_workspace_bytes(tokens, shape.experts));
    kernels::moe_routing(lt, tables, shape.config.routing, it, mt, scratch.data(), test_pool());
  }

  // Each token on its own: every chosen expert computed directly, weighted and summed, then the
  // latent output projection and the shared expert.
  std::vector<double> reference(const float* x, const int32_t* ids, const float* mix) const {
    const int64_t width = shape.latent > 0 ? shape.latent : shape.hidden;
    std::vector<float> expert_in(x, x + shape.hidden);
    if (shape.latent > 0) {
      for (int64_t l = 0; l < width; ++l) {
        double v = 0;
        for (int64_t c = 0; c < shape.hidden; ++c) v += latent_in.at(l, c) * x[c];
        expert_in[l] = static_cast<float>(v);
      }
      expert_in.resize(static_cast<size_t>(width));
    }
    std::vector<double> routed(static_cast<size_t>(width), 0.0);
    for (int64_t j = 0; j < shape.config.routing.top_k; ++j) {
      const std::vector<double> y = experts[static_cast<size_t>(ids[j])].reference(expert_in.data());
      for (int64_t c = 0; c < width; ++c) routed[c] += mix[j] * y[c];
    }
    std::vector<double> out(routed);
    if (shape.latent > 0) {
      out.assign(static_cast<size_t>(shape.hidden), 0.0);
      for (int64_t o = 0; o < shape.hidden; ++o)
        for (int64_t l = 0; l < width; ++l) out[o] += latent_out.at(o, l) * routed[l];
    }
    if (shared) {
      const std::vector<double> y = shared->reference(x);
      for (int64_t c = 0; c < shape.hidden; ++c) out[c] += y[c];
    }
    return out;
  }
};

// Runs the layer on T random tokens and compares with the per-token reference. Experts no token chose
// are poisoned with NaN first, so touching one shows up.
void check_moe(Layer& layer, int64_t tokens, bool accumulate = false, int64_t expect_idle_expert = -1) {
  const Shape& s = layer.shape;
  SCOPED_TRACE(std::string(dtype_name(s.dtype)) + " T=" + std::to_string(tokens));
  std::mt19937 rng(static_cast<uint32_t>(tokens) * 7 + 1);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(tokens * s.hidden)), out(x.size());
  for (auto& v : x) v = dist(rng);
  for (auto& v : out) v = accumulate ? dist(rng) : std::numeric_limits<float>::quiet_NaN();
  const std::vector<float> before = out;
  std::vector<int32_t> token_ids(static_cast<size_t>(tokens));
  for (auto& id : token_ids) id = static_cast<int32_t>(rng() % 50);

  std::vector<int32_t> ids;
  std::vector<float> mix;
  layer.route(x, token_ids, ids, mix);
  std::vector<int64_t> load(static_cast<size_t>(s.experts), 0);
  for (int32_t id : ids) ++load[static_cast<size_t>(id)];
  if (expect_idle_expert >= 0) {
    ASSERT_EQ(load[static_cast<size_t>(expect_idle_expert)], 0);
  }
  for (int64_t e = 0; e < s.experts; ++e) {
    if (load[static_cast<size_t>(e)] == 0) layer.experts[static_cast<size_t>(e)].poison();
  }

  Tensor xt = Tensor::contiguous(x.data(), DType::f32, {tokens, s.hidden});
  Tensor ot = Tensor::contiguous(out.data(), DType::f32, {tokens, s.hidden});
  Tensor tid = Tensor::contiguous(token_ids.data(), DType::i32, {tokens});
  Workspace ws;
  moe_forward(layer.weights, s.config, xt, &tid, ot, ws, test_pool(), accumulate);

  const int64_t k = s.config.routing.top_k;
  for (int64_t t = 0; t < tokens; ++t) {
    const std::vector<double> want =
        layer.reference(x.data() + t * s.hidden, ids.data() + t * k, mix.data() + t * k);
    for (int64_t c = 0; c < s.hidden; ++c) {
      const double expected = want[c] + (accumulate ? before[t * s.hidden + c] : 0.0);
      ASSERT_NEAR(out[t * s.hidden + c], expected, 5e-5 + 5e-5 * std::abs(expected))
          << "token " << t << " col " << c;
    }
  }
}

Shape nemotron_shape(DType dtype, int64_t latent) {
  Shape s;
  s.dtype = dtype;
  s.latent = latent;
  s.config.routing.top_k = 3;
  s.config.routing.n_group = 4;
  s.config.routing.topk_group = 2;
  s.config.routing.norm_topk_prob = true;
  s.config.routing.routed_scaling_factor = 2.5f;
  return s;
}

TEST(MoeLayer, NemotronStyleMatchesPerTokenReference) {
  for (DType dtype : {DType::f32, DType::bf16})
    for (int64_t tokens : {1, 7, 64}) {
      Layer layer(nemotron_shape(dtype, 0));
      check_moe(layer, tokens);
    }
}

TEST(MoeLayer, LatentProjectionsMatchPerTokenReference) {
  for (DType dtype : {DType::f32, DType::bf16})
    for (int64_t tokens : {1, 7, 64}) {
      Layer layer(nemotron_shape(dtype, 16));
      check_moe(layer, tokens);
    }
}

TEST(MoeLayer, ExpertWithNoTokensIsSkipped) {
  Shape s = nemotron_shape(DType::bf16, 0);
  Layer layer(s);
  layer.correction_bias.f32[5] = -100.0f;  // expert 5 can never be selected
  check_moe(layer, 64, false, 5);
}

TEST(MoeLayer, NoSharedExpertAndAccumulate) {
  Shape s = nemotron_shape(DType::f32, 0);
  s.shared = false;
  s.bias = false;
  Layer layer(s);
  check_moe(layer, 7, true);
  Layer latent(nemotron_shape(DType::bf16, 16));
  check_moe(latent, 9, true);
}

TEST(MoeLayer, HashRoutedSwiGluExpertsMatchPerTokenReference) {
  Shape s;
  s.dtype = DType::bf16;
  s.bias = false;
  s.config.expert_activation = MlpActivation::silu_gated;
  s.config.shared_activation = MlpActivation::silu_gated;
  s.config.routing.top_k = 2;
  s.config.routing.mode = kernels::RoutingMode::hash;
  s.config.routing.scoring = kernels::RouterScoring::sqrt_softplus;
  s.config.routing.norm_topk_prob = true;
  s.config.routing.routed_scaling_factor = 1.5f;
  Layer layer(s);
  check_moe(layer, 7);
  Layer decode(s);
  check_moe(decode, 1);
}

TEST(MoeLayer, RejectsInconsistentWeights) {
  auto expect_error = [](const MoeWeights& w, const MoeConfig& c, const char* what) {
    try {
      check_moe(w, c, 32, "layers.4.mixer");
      ADD_FAILURE() << "accepted: " << what;
    } catch (const Error& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find(what), std::string::npos) << msg;
      EXPECT_NE(msg.find("layers.4.mixer"), std::string::npos) << msg;
    }
  };
  Layer layer(nemotron_shape(DType::bf16, 16));
  EXPECT_NO_THROW(check_moe(layer.weights, layer.shape.config, 32, "x"));
  MoeWeights w = layer.weights;
  w.experts.pop_back();
  expect_error(w, layer.shape.config, "7 expert weight sets");
  w = layer.weights;
  w.latent_out = Tensor{};
  expect_error(w, layer.shape.config, "pair");
  w = layer.weights;
  w.experts[3].down = layer.weights.experts[3].up;
  expect_error(w, layer.shape.config, "experts.3: expert: down_proj.weight");
  MoeConfig c = layer.shape.config;
  c.routing.top_k = 9;
  expect_error(layer.weights, c, "top_k");
  c = layer.shape.config;
  c.routing.mode = kernels::RoutingMode::hash;
  expect_error(layer.weights, c, "tid2eid");

  // Hash routing without token ids fails at forward time.
  Shape hs;
  hs.bias = false;
  hs.config.routing.top_k = 2;
  hs.config.routing.mode = kernels::RoutingMode::hash;
  Layer hashed(hs);
  std::vector<float> x(32), out(32);
  Tensor xt = Tensor::contiguous(x.data(), DType::f32, {1, 32});
  Tensor ot = Tensor::contiguous(out.data(), DType::f32, {1, 32});
  Workspace ws;
  EXPECT_THROW(moe_forward(hashed.weights, hs.config, xt, nullptr, ot, ws, test_pool()), Error);
  std::vector<int32_t> bad{50};
  Tensor tid = Tensor::contiguous(bad.data(), DType::i32, {1});
  EXPECT_THROW(moe_forward(hashed.weights, hs.config, xt, &tid, ot, ws, test_pool()), Error);
}

}  // namespace
}  // namespace strata::model
