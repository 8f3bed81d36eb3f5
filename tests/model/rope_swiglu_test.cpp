// RoPE (theta, partial rotary factor) and SwiGLU, read from config fields by the shared family readers,
// through the whole model: an attention + SwiGLU-MLP stack (`*-*-`) against a plain double-precision
// forward written out below, in full prefill and in token-by-token decode (KV and positions through the
// cache). Nemotron-H uses neither; the families of the next issue (Bamba, Granite, Falcon-H1) do.
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "strata/core/error.h"
#include "strata/core/thread_pool.h"
#include "strata/core/workspace.h"
#include "strata/model/config_fields.h"
#include "strata/model/families/family.h"
#include "strata/model/model.h"

namespace strata::model {
namespace {

using nlohmann::json;
using Matrix = std::vector<double>;  // row-major

constexpr int64_t kHidden = 32, kHeads = 4, kKvHeads = 2, kHeadDim = 8, kInter = 48, kVocab = 64;
const char* const kPattern = "*-*-";

json config_json() {
  return json{{"model_type", "nemotron_h"}, {"hidden_size", kHidden}, {"hybrid_override_pattern", kPattern},
              {"num_hidden_layers", 4}, {"mamba_num_heads", 2}, {"mamba_head_dim", 8}, {"ssm_state_size", 8},
              {"n_groups", 1}, {"conv_kernel", 4}, {"chunk_size", 8}, {"num_attention_heads", kHeads},
              {"num_key_value_heads", kKvHeads}, {"head_dim", kHeadDim}, {"intermediate_size", kInter},
              {"vocab_size", kVocab}, {"layer_norm_epsilon", 1e-5}};
}

struct Weights {
  std::map<std::string, std::pair<std::vector<int64_t>, Matrix>> all;
  const Matrix& operator[](const std::string& n) const { return all.at(n).second; }
};

Weights random_weights(uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  Weights w;
  auto add = [&](const std::string& name, std::vector<int64_t> shape, double scale, double offset = 0.0) {
    int64_t n = 1;
    for (int64_t s : shape) n *= s;
    Matrix m(static_cast<size_t>(n));
    for (double& x : m) x = offset + scale * u(rng);
    w.all[name] = {shape, m};
  };
  add("backbone.embeddings.weight", {kVocab, kHidden}, 1.0);
  add("backbone.norm_f.weight", {kHidden}, 0.2, 1.0);
  add("lm_head.weight", {kVocab, kHidden}, 0.5);
  for (int l = 0; l < 4; ++l) {
    const std::string p = "backbone.layers." + std::to_string(l) + ".";
    add(p + "norm.weight", {kHidden}, 0.2, 1.0);
    if (kPattern[l] == '*') {
      add(p + "mixer.q_proj.weight", {kHeads * kHeadDim, kHidden}, 0.4);
      add(p + "mixer.k_proj.weight", {kKvHeads * kHeadDim, kHidden}, 0.4);
      add(p + "mixer.v_proj.weight", {kKvHeads * kHeadDim, kHidden}, 0.4);
      add(p + "mixer.o_proj.weight", {kHidden, kHeads * kHeadDim}, 0.3);
    } else {
      add(p + "mixer.up_proj.weight", {kInter, kHidden}, 0.3);
      add(p + "mixer.gate_proj.weight", {kInter, kHidden}, 0.3);
      add(p + "mixer.down_proj.weight", {kHidden, kInter}, 0.2);
    }
  }
  return w;
}

// y[t] = W x[t] for W [out, in].
Matrix linear(const Matrix& x, const Matrix& w, int64_t in, int64_t out) {
  const int64_t T = static_cast<int64_t>(x.size()) / in;
  Matrix y(static_cast<size_t>(T * out), 0.0);
  for (int64_t t = 0; t < T; ++t)
    for (int64_t o = 0; o < out; ++o) {
      double s = 0;
      for (int64_t i = 0; i < in; ++i) s += w[static_cast<size_t>(o * in + i)] * x[static_cast<size_t>(t * in + i)];
      y[static_cast<size_t>(t * out + o)] = s;
    }
  return y;
}

Matrix rms_norm(const Matrix& x, const Matrix& w) {
  Matrix y = x;
  const int64_t T = static_cast<int64_t>(x.size()) / kHidden;
  for (int64_t t = 0; t < T; ++t) {
    double ss = 0;
    for (int64_t d = 0; d < kHidden; ++d) ss += x[static_cast<size_t>(t * kHidden + d)] * x[static_cast<size_t>(t * kHidden + d)];
    const double r = 1.0 / std::sqrt(ss / kHidden + 1e-5);
    for (int64_t d = 0; d < kHidden; ++d) y[static_cast<size_t>(t * kHidden + d)] *= r * w[static_cast<size_t>(d)];
  }
  return y;
}

// HF rotate_half RoPE on the first `rotary` dimensions of each head, position = row index.
void rope(Matrix& x, int64_t heads, int64_t rotary, double theta) {
  const int64_t T = static_cast<int64_t>(x.size()) / (heads * kHeadDim), half = rotary / 2;
  for (int64_t t = 0; t < T; ++t)
    for (int64_t h = 0; h < heads; ++h) {
      double* v = x.data() + (t * heads + h) * kHeadDim;
      for (int64_t i = 0; i < half; ++i) {
        const double angle = static_cast<double>(t) * std::pow(theta, -2.0 * static_cast<double>(i) / static_cast<double>(rotary));
        const double a = v[i], b = v[i + half];
        v[i] = a * std::cos(angle) - b * std::sin(angle);
        v[i + half] = b * std::cos(angle) + a * std::sin(angle);
      }
    }
}

Matrix reference_logits(const Weights& w, const std::vector<int32_t>& tokens, int64_t rotary, double theta) {
  const int64_t T = static_cast<int64_t>(tokens.size());
  Matrix x(static_cast<size_t>(T * kHidden));
  for (int64_t t = 0; t < T; ++t)
    for (int64_t d = 0; d < kHidden; ++d)
      x[static_cast<size_t>(t * kHidden + d)] = w["backbone.embeddings.weight"][static_cast<size_t>(tokens[static_cast<size_t>(t)] * kHidden + d)];
  for (int l = 0; l < 4; ++l) {
    const std::string p = "backbone.layers." + std::to_string(l) + ".";
    const Matrix n = rms_norm(x, w[p + "norm.weight"]);
    Matrix delta;
    if (kPattern[l] == '*') {
      Matrix q = linear(n, w[p + "mixer.q_proj.weight"], kHidden, kHeads * kHeadDim);
      Matrix k = linear(n, w[p + "mixer.k_proj.weight"], kHidden, kKvHeads * kHeadDim);
      const Matrix v = linear(n, w[p + "mixer.v_proj.weight"], kHidden, kKvHeads * kHeadDim);
      rope(q, kHeads, rotary, theta);
      rope(k, kKvHeads, rotary, theta);
      Matrix att(static_cast<size_t>(T * kHeads * kHeadDim), 0.0);
      for (int64_t t = 0; t < T; ++t)
        for (int64_t h = 0; h < kHeads; ++h) {
          const int64_t g = h / (kHeads / kKvHeads);
          std::vector<double> s(static_cast<size_t>(t + 1));
          double mx = -1e300, z = 0;
          for (int64_t u = 0; u <= t; ++u) {
            double dot = 0;
            for (int64_t d = 0; d < kHeadDim; ++d)
              dot += q[static_cast<size_t>((t * kHeads + h) * kHeadDim + d)] * k[static_cast<size_t>((u * kKvHeads + g) * kHeadDim + d)];
            s[static_cast<size_t>(u)] = dot / std::sqrt(static_cast<double>(kHeadDim));
            mx = std::max(mx, s[static_cast<size_t>(u)]);
          }
          for (double& e : s) z += (e = std::exp(e - mx));
          for (int64_t u = 0; u <= t; ++u)
            for (int64_t d = 0; d < kHeadDim; ++d)
              att[static_cast<size_t>((t * kHeads + h) * kHeadDim + d)] +=
                  s[static_cast<size_t>(u)] / z * v[static_cast<size_t>((u * kKvHeads + g) * kHeadDim + d)];
        }
      delta = linear(att, w[p + "mixer.o_proj.weight"], kHeads * kHeadDim, kHidden);
    } else {
      Matrix up = linear(n, w[p + "mixer.up_proj.weight"], kHidden, kInter);
      const Matrix gate = linear(n, w[p + "mixer.gate_proj.weight"], kHidden, kInter);
      for (size_t i = 0; i < up.size(); ++i) up[i] *= gate[i] / (1.0 + std::exp(-gate[i]));
      delta = linear(up, w[p + "mixer.down_proj.weight"], kInter, kHidden);
    }
    for (size_t i = 0; i < x.size(); ++i) x[i] += delta[i];
  }
  return linear(rms_norm(x, w["backbone.norm_f.weight"]), w["lm_head.weight"], kHidden, kVocab);
}

std::unique_ptr<Model> build(const Weights& w, const json& options) {
  ModelConfig c = model_config_from_json(config_json(), "rope-swiglu.json");
  const ConfigFields fields(options, "rope-swiglu.json");
  read_rope(fields, c);
  read_mlp_activation(fields, "hidden_act", "relu2", c);
  auto weights = std::make_unique<MemoryWeights>("rope-swiglu");
  for (const auto& [name, entry] : w.all) {
    const auto& shape = entry.first;
    Tensor t = shape.size() == 1 ? weights->add(name, DType::f32, {shape[0]}) : weights->add(name, DType::f32, {shape[0], shape[1]});
    for (size_t i = 0; i < entry.second.size(); ++i) t.ptr<float>()[i] = static_cast<float>(entry.second[i]);
  }
  return Model::from_weights(std::move(c), std::move(weights), "rope-swiglu");
}

TEST(RopeSwiglu, WholeModelMatchesPlainReferenceInPrefillAndDecode) {
  const Weights w = random_weights(11);
  const double theta = 500.0;
  const auto model = build(w, json{{"rope_theta", theta}, {"partial_rotary_factor", 0.5}, {"hidden_act", "silu"}});
  ASSERT_EQ(model->config().mlp_activation, MlpActivation::silu_gated);
  ASSERT_FLOAT_EQ(model->config().rope.theta, 500.0f);
  std::vector<int32_t> tokens = {3, 17, 42, 8, 63, 0, 21, 5, 33};
  const int64_t T = static_cast<int64_t>(tokens.size());
  const Matrix want = reference_logits(w, tokens, kHeadDim / 2, theta);
  // Another theta gives clearly different logits, so the comparison sees the rotation.
  const Matrix unrotated = reference_logits(w, tokens, kHeadDim / 2, 1e30);

  ThreadPool pool(2);
  for (const bool decode : {false, true}) {
    SequenceCache cache = model->make_cache(CacheOptions{.max_sequences = 1, .max_context = 16, .kv_block_size = 4});
    const int slot = cache.allocate();
    Workspace ws;
    std::vector<float> got;
    for (int64_t done = 0; done < T;) {
      const int64_t n = decode ? 1 : T;
      const std::vector<int32_t> feed(tokens.begin() + done, tokens.begin() + done + n);
      const SequenceStep step{.slot = slot, .length = n, .all_logits = true};
      const ForwardBatch batch{.tokens = feed, .sequences = std::span(&step, 1)};
      ws.reset();
      Tensor logits = ws.take(DType::f32, {n, kVocab});
      model->forward(batch, cache, logits, ws, pool);
      got.insert(got.end(), logits.ptr<float>(), logits.ptr<float>() + n * kVocab);
      done += n;
    }
    double err = 0, rope_effect = 0;
    for (size_t i = 0; i < want.size(); ++i) {
      err = std::max(err, std::fabs(got[i] - want[i]));
      rope_effect = std::max(rope_effect, std::fabs(want[i] - unrotated[i]));
    }
    EXPECT_LT(err, 1e-4) << (decode ? "decode" : "prefill");
    EXPECT_GT(rope_effect, 1e-2);
  }
}

TEST(RopeSwiglu, ConfigReadersRefuseWhatStrataDoesNotRun) {
  ModelConfig c = model_config_from_json(config_json(), "x.json");
  auto expect_error = [&](const json& options, const std::string& part) {
    try {
      const ConfigFields fields(options, "x.json");
      read_rope(fields, c);
      read_mlp_activation(fields, "hidden_act", "relu2", c);
      ADD_FAILURE() << "expected an error naming " << part;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
    }
  };
  expect_error(json{{"rope_scaling", {{"rope_type", "yarn"}, {"factor", 4.0}}}}, "rope_scaling");
  expect_error(json{{"partial_rotary_factor", 0.1}}, "partial_rotary_factor");  // 0.8 dims of 8
  expect_error(json{{"rope_theta", -1.0}}, "rope_theta");
  expect_error(json{{"hidden_act", "tanh"}}, "hidden_act");
}

}  // namespace
}  // namespace strata::model
