// The whole Mamba2 mixer (in_proj → conv → SSD → gated norm → out_proj) against a plain double-precision
// reference written here, and its execution paths against each other: prefill of everything = prefill of
// a prefix + token-by-token decode = prefill in chunks of any size (outputs and final states), and a
// speculative (1+S)-token verification followed by rollback to k = running k+1 tokens.
#include <cmath>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "strata/cache/state_cache.h"
#include "strata/core/error.h"
#include "strata/model/mamba2_mixer.h"

namespace strata::model {
namespace {

struct Fixture {
  Mamba2Dims dims{.hidden = 24,
                  .ssm = {.n_heads = 4, .head_dim = 6, .state_size = 10, .n_groups = 2, .conv_kernel = 4, .chunk_size = 5},
                  .dt_min = 0.0f,
                  .dt_max = 2.0f,
                  .norm_eps = 1e-5f};
  std::vector<float> in_proj, conv_w, conv_b, dt_bias, A_log, D, norm_w, out_proj;
  std::unique_ptr<Mamba2Mixer> mixer;

  explicit Fixture(uint32_t seed = 7) {
    std::mt19937 rng(seed);
    auto fill = [&](std::vector<float>& v, size_t n, float lo, float hi) {
      std::uniform_real_distribution<float> u(lo, hi);
      v.resize(n);
      for (auto& x : v) x = u(rng);
    };
    const int64_t E = dims.inner(), C = dims.conv_dim(), H = dims.ssm.n_heads, Dm = dims.hidden;
    fill(in_proj, static_cast<size_t>(dims.in_proj_width() * Dm), -0.3f, 0.3f);
    fill(conv_w, static_cast<size_t>(C * dims.ssm.conv_kernel), -0.5f, 0.5f);
    fill(conv_b, static_cast<size_t>(C), -0.2f, 0.2f);
    fill(dt_bias, static_cast<size_t>(H), -2.0f, 0.5f);
    fill(A_log, static_cast<size_t>(H), -0.5f, 1.5f);
    fill(D, static_cast<size_t>(H), 0.5f, 1.5f);
    fill(norm_w, static_cast<size_t>(E), 0.8f, 1.2f);
    fill(out_proj, static_cast<size_t>(Dm * E), -0.3f, 0.3f);
    auto t = [](std::vector<float>& v, std::initializer_list<int64_t> shape) {
      return Tensor::contiguous(v.data(), DType::f32, shape);
    };
    const Mamba2Weights w{.in_proj = t(in_proj, {dims.in_proj_width(), Dm}), .in_proj_bias = {},
                          .conv_weight = t(conv_w, {C, 1, dims.ssm.conv_kernel}), .conv_bias = t(conv_b, {C}),
                          .dt_bias = t(dt_bias, {H}), .A_log = t(A_log, {H}), .D = t(D, {H}),
                          .norm_weight = t(norm_w, {E}), .out_proj = t(out_proj, {Dm, E}), .out_proj_bias = {}};
    mixer = std::make_unique<Mamba2Mixer>(dims, w, "test.mixer");
  }

  cache::StateCacheConfig cache_config(int sequences, int speculative = 0) const {
    cache::StateCacheConfig c;
    c.layers.push_back(cache::MambaStateShape{.conv_dim = dims.conv_dim(), .conv_kernel = dims.ssm.conv_kernel,
                                              .n_heads = dims.ssm.n_heads, .head_dim = dims.ssm.head_dim,
                                              .state_size = dims.ssm.state_size});
    c.max_sequences = sequences;
    c.speculative_tokens = speculative;
    c.model_id = "mixer-test";
    return c;
  }

  // The mixer written as plainly as possible in double precision: one sequence from zero state.
  std::vector<double> reference(const std::vector<float>& x, int64_t T) const {
    const int64_t Dm = dims.hidden, E = dims.inner(), C = dims.conv_dim(), H = dims.ssm.n_heads, P = dims.ssm.head_dim,
                  N = dims.ssm.state_size, G = dims.ssm.n_groups, K = dims.ssm.conv_kernel, W = dims.in_proj_width();
    std::vector<double> zx(static_cast<size_t>(T * W)), conv(static_cast<size_t>(T * C)), y(static_cast<size_t>(T * E));
    for (int64_t t = 0; t < T; ++t)
      for (int64_t o = 0; o < W; ++o) {
        double s = 0;
        for (int64_t i = 0; i < Dm; ++i) s += double(x[size_t(t * Dm + i)]) * in_proj[size_t(o * Dm + i)];
        zx[size_t(t * W + o)] = s;
      }
    for (int64_t t = 0; t < T; ++t)
      for (int64_t c = 0; c < C; ++c) {
        double s = conv_b[size_t(c)];
        for (int64_t k = 0; k < K; ++k) {
          const int64_t src = t - (K - 1 - k);
          if (src >= 0) s += conv_w[size_t(c * K + k)] * zx[size_t(src * W + E + c)];
        }
        conv[size_t(t * C + c)] = s / (1 + std::exp(-s));
      }
    std::vector<double> S(static_cast<size_t>(H * P * N), 0.0);
    for (int64_t t = 0; t < T; ++t)
      for (int64_t h = 0; h < H; ++h) {
        const int64_t g = h / (H / G);
        double dt = zx[size_t(t * W + E + C + h)] + dt_bias[size_t(h)];
        dt = dt > 20 ? dt : std::log1p(std::exp(dt));
        dt = std::min(std::max(dt, double(dims.dt_min)), double(dims.dt_max));
        const double a = std::exp(-std::exp(double(A_log[size_t(h)])) * dt);
        for (int64_t p = 0; p < P; ++p) {
          const double xv = conv[size_t(t * C + h * P + p)];
          double out = D[size_t(h)] * xv;
          for (int64_t n = 0; n < N; ++n) {
            double& s = S[size_t((h * P + p) * N + n)];
            s = a * s + dt * xv * conv[size_t(t * C + E + g * N + n)];
            out += s * conv[size_t(t * C + E + G * N + g * N + n)];
          }
          y[size_t(t * E + h * P + p)] = out;
        }
      }
    std::vector<double> out(static_cast<size_t>(T * Dm));
    const int64_t group = E / G;
    for (int64_t t = 0; t < T; ++t) {
      std::vector<double> gated(static_cast<size_t>(E));
      for (int64_t e = 0; e < E; ++e) {
        const double z = zx[size_t(t * W + e)];
        gated[size_t(e)] = y[size_t(t * E + e)] * z / (1 + std::exp(-z));
      }
      for (int64_t g = 0; g < G; ++g) {
        double ms = 0;
        for (int64_t e = g * group; e < (g + 1) * group; ++e) ms += gated[size_t(e)] * gated[size_t(e)];
        const double r = 1 / std::sqrt(ms / double(group) + dims.norm_eps);
        for (int64_t e = g * group; e < (g + 1) * group; ++e) gated[size_t(e)] *= r * norm_w[size_t(e)];
      }
      for (int64_t o = 0; o < Dm; ++o) {
        double s = 0;
        for (int64_t e = 0; e < E; ++e) s += gated[size_t(e)] * out_proj[size_t(o * E + e)];
        out[size_t(t * Dm + o)] = s;
      }
    }
    return out;
  }
};

// Runs rows [begin, end) of x for `slot` as one sequence step (decode path when it is one token continuing
// a sequence), writing output rows into out.
void run_step(const Fixture& f, cache::MambaStateCache& c, int slot, const std::vector<float>& x, int64_t begin,
              int64_t end, std::vector<float>& out, ThreadPool& pool, bool verify = false) {
  const int64_t Dm = f.dims.hidden, T = end - begin;
  const std::vector<int64_t> cu = {0, T};
  const std::vector<int32_t> slots = {slot};
  const std::vector<uint8_t> initial = {static_cast<uint8_t>(c.position(slot) > 0)};
  const bool decode = verify || (T == 1 && c.position(slot) > 0);
  const Mamba2Batch batch{.varlen = {cu, slots, initial}, .decode_sequences = decode ? 1 : 0, .verify = verify, .keep_states = {}};
  const Mamba2LayerState state{.conv_pool = c.conv_pool(0), .ssm_pool = c.ssm_pool(0),
                               .speculative_conv = c.speculative_conv(0), .speculative_ssm = c.speculative_ssm(0)};
  Workspace ws;
  Tensor xin = Tensor::contiguous(const_cast<float*>(x.data()) + begin * Dm, DType::f32, {T, Dm});
  Tensor o = Tensor::contiguous(out.data() + begin * Dm, DType::f32, {T, Dm});
  f.mixer->forward(xin, o, false, batch, state, ws, pool);
  c.advance(slot, T);
}

std::vector<float> random_input(int64_t T, int64_t Dm, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> n(0.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(T * Dm));
  for (auto& v : x) v = n(rng);
  return x;
}

double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  double m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::fabs(double(a[i]) - b[i]));
  return m;
}

TEST(Mamba2Mixer, PrefillMatchesPlainReference) {
  Fixture f;
  ThreadPool pool(2);
  for (int64_t T : {1, 4, 5, 6, 23}) {
    cache::MambaStateCache c(f.cache_config(1));
    const int slot = c.allocate();
    const auto x = random_input(T, f.dims.hidden, 100 + uint32_t(T));
    std::vector<float> out(x.size());
    run_step(f, c, slot, x, 0, T, out, pool);
    const auto ref = f.reference(x, T);
    double worst = 0, scale = 0;
    for (size_t i = 0; i < out.size(); ++i) {
      worst = std::max(worst, std::fabs(out[i] - ref[i]));
      scale = std::max(scale, std::fabs(ref[i]));
    }
    EXPECT_LT(worst, 1e-4 * std::max(1.0, scale)) << "T=" << T;
  }
}

TEST(Mamba2Mixer, PrefillEqualsPrefixPlusDecodeEqualsChunks) {
  Fixture f;
  ThreadPool pool(2);
  const int64_t T = 29, Dm = f.dims.hidden;
  const auto x = random_input(T, Dm, 5);
  cache::MambaStateCache whole_cache(f.cache_config(1));
  const int whole = whole_cache.allocate();
  std::vector<float> whole_out(x.size());
  run_step(f, whole_cache, whole, x, 0, T, whole_out, pool);

  auto compare_states = [&](cache::MambaStateCache& c, int slot, const char* what) {
    const Tensor a = whole_cache.ssm_state(0, whole), b = c.ssm_state(0, slot);
    for (int64_t i = 0; i < a.numel(); ++i)
      ASSERT_NEAR(a.ptr<float>()[i], b.ptr<float>()[i], 1e-5) << what << " ssm " << i;
    const Tensor ca = whole_cache.conv_state(0, whole), cb = c.conv_state(0, slot);
    for (int64_t i = 0; i < ca.numel(); ++i)
      ASSERT_NEAR(ca.ptr<float>()[i], cb.ptr<float>()[i], 1e-6) << what << " conv " << i;
  };

  // A prefix prefill then token-by-token decode.
  for (int64_t prefix : {1, 2, 5, 11}) {
    cache::MambaStateCache c(f.cache_config(1));
    const int slot = c.allocate();
    std::vector<float> out(x.size());
    run_step(f, c, slot, x, 0, prefix, out, pool);
    for (int64_t t = prefix; t < T; ++t) run_step(f, c, slot, x, t, t + 1, out, pool);
    EXPECT_LT(max_abs_diff(out, whole_out), 1e-5) << "prefix " << prefix;
    compare_states(c, slot, "decode");
  }
  // Chunks of every size from 1 to T.
  for (int64_t chunk = 1; chunk <= T; ++chunk) {
    cache::MambaStateCache c(f.cache_config(1));
    const int slot = c.allocate();
    std::vector<float> out(x.size());
    for (int64_t t = 0; t < T; t += chunk) {
      const int64_t end = std::min(T, t + chunk);
      // One-token chunks after the first are decodes; longer ones go through the chunked scan.
      run_step(f, c, slot, x, t, end, out, pool);
    }
    EXPECT_LT(max_abs_diff(out, whole_out), 1e-5) << "chunk " << chunk;
    compare_states(c, slot, "chunks");
  }
}

TEST(Mamba2Mixer, VerifyThenRollbackEqualsRunningKPlusOneTokens) {
  Fixture f;
  ThreadPool pool(2);
  const int S = 4;
  const int64_t prompt = 7, Dm = f.dims.hidden;
  const auto x = random_input(prompt + S + 1, Dm, 9);
  for (int k = 0; k <= S; ++k) {
    cache::MambaStateCache c(f.cache_config(1, S));
    const int slot = c.allocate();
    std::vector<float> verify_out(x.size()), plain_out(x.size());
    run_step(f, c, slot, x, 0, prompt, verify_out, pool);
    run_step(f, c, slot, x, prompt, prompt + S + 1, verify_out, pool, /*verify=*/true);
    c.rollback(slot, S, k);
    EXPECT_EQ(c.position(slot), prompt + k + 1);

    cache::MambaStateCache ref(f.cache_config(1));
    const int rslot = ref.allocate();
    run_step(f, ref, rslot, x, 0, prompt, plain_out, pool);
    for (int64_t t = prompt; t < prompt + S + 1; ++t) run_step(f, ref, rslot, x, t, t + 1, plain_out, pool);
    // Verification outputs equal one-token decodes, token by token.
    EXPECT_LT(max_abs_diff(verify_out, plain_out), 1e-5);
    // After rollback the slot holds the state after k+1 of the verified tokens.
    cache::MambaStateCache ref_k(f.cache_config(1));
    const int kslot = ref_k.allocate();
    std::vector<float> scratch(x.size());
    run_step(f, ref_k, kslot, x, 0, prompt, scratch, pool);
    for (int64_t t = prompt; t < prompt + k + 1; ++t) run_step(f, ref_k, kslot, x, t, t + 1, scratch, pool);
    const Tensor a = ref_k.ssm_state(0, kslot), b = c.ssm_state(0, slot);
    for (int64_t i = 0; i < a.numel(); ++i) ASSERT_NEAR(a.ptr<float>()[i], b.ptr<float>()[i], 1e-6) << "k=" << k;
    const Tensor ca = ref_k.conv_state(0, kslot), cb = c.conv_state(0, slot);
    for (int64_t i = 0; i < ca.numel(); ++i) ASSERT_EQ(ca.ptr<float>()[i], cb.ptr<float>()[i]) << "k=" << k;
    // And continuing from there matches continuing the reference.
    std::vector<float> next_a(x.size()), next_b(x.size());
    run_step(f, c, slot, x, 0, 1, next_a, pool);
    run_step(f, ref_k, kslot, x, 0, 1, next_b, pool);
    EXPECT_LT(max_abs_diff(next_a, next_b), 1e-6) << "k=" << k;
  }
}

TEST(Mamba2Mixer, RejectsMisshapenWeights) {
  Fixture f;
  std::vector<float> small(10);
  Mamba2Weights w;
  w.in_proj = Tensor::contiguous(small.data(), DType::f32, {2, 5});
  try {
    Mamba2Mixer m(f.dims, w, "layers.3.mixer");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("layers.3.mixer.in_proj.weight"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace strata::model
