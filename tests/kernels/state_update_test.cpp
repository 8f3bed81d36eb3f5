// Selective state update against the plain Mamba2 recurrence (kernels_models.md §1.1) in double:
// one-token decode with groups, padding and fresh slots; long sequences; speculative verify whose
// intermediates equal chains of one-token calls (f32 and bf16 pools); dt limits; hostile shapes.
#include "strata/kernels/cpu/state_update.h"

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "varlen_batch_builder.h"

#include "strata/core/dtype.h"
#include "strata/core/error.h"

namespace strata::kernels::cpu {
namespace {

// Activations live interleaved in one wide row per token, as they come out of in_proj:
// [x (H*P) | B (G*N) | C (G*N) | dt (H) | 3 columns of slack], so every view is strided.
struct SsmCase {
  SelectiveStateUpdateParams params;
  int64_t T, num_slots, width;
  std::vector<float> act, A, D, dt_bias, state;
  SsmCase(int64_t H, int64_t P, int64_t N, int64_t G, int64_t T_, int64_t num_slots_, uint32_t seed)
      : params{H, P, N, G, true}, T(T_), num_slots(num_slots_) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    std::uniform_real_distribution<float> uniform(0.0f, 1.0f);
    width = H * P + 2 * G * N + H + 3;
    act.resize(static_cast<size_t>(T * width));
    for (float& v : act) v = normal(rng);
    for (int64_t t = 0; t < T; ++t)  // dt raw spans the softplus threshold (20) on purpose
      for (int64_t h = 0; h < H; ++h) act[size_t(t * width + dt_col() + h)] = (t + h) % 7 == 3 ? 21.0f + uniform(rng) : 2.0f * normal(rng) - 1.0f;
    for (int64_t h = 0; h < H; ++h) {
      A.push_back(-std::exp(-1.0f + 2.0f * uniform(rng)));  // -exp(A_log)
      D.push_back(normal(rng));
      dt_bias.push_back(0.5f * normal(rng));
    }
    state.resize(static_cast<size_t>(num_slots * H * P * N));
    for (float& v : state) v = normal(rng);
  }
  int64_t H() const { return params.n_heads; }
  int64_t P() const { return params.head_dim; }
  int64_t N() const { return params.state_size; }
  int64_t G() const { return params.n_groups; }
  int64_t b_col() const { return H() * P(); }
  int64_t c_col() const { return b_col() + G() * N(); }
  int64_t dt_col() const { return c_col() + G() * N(); }
  Tensor window(int64_t col, int64_t cols, int64_t row0, int64_t rows) {
    Tensor t = Tensor::contiguous(act.data() + row0 * width + col, DType::f32, {rows, cols});
    t.strides[0] = width;
    return t;
  }
  SelectiveStateUpdateInputs inputs(int64_t row0, int64_t rows) {
    return {window(0, H() * P(), row0, rows), window(dt_col(), H(), row0, rows), window(b_col(), G() * N(), row0, rows),
            window(c_col(), G() * N(), row0, rows)};
  }
  SelectiveStateUpdateWeights weights() {
    return {Tensor::contiguous(A.data(), DType::f32, {H()}), Tensor::contiguous(D.data(), DType::f32, {H()}),
            Tensor::contiguous(dt_bias.data(), DType::f32, {H()})};
  }
  float a(int64_t t, int64_t col) const { return act[size_t(t * width + col)]; }
};

// The recurrence, in double: updates `state` (one slot's [H,P,N] per sequence) and returns y [T, H*P].
std::vector<double> recurrence(const SsmCase& c, const Batch& b, std::vector<double>& state) {
  const int64_t H = c.H(), P = c.P(), N = c.N(), heads_per_group = H / c.G();
  std::vector<double> y(size_t(c.T * H * P), 0.0);
  for (size_t i = 0; i < b.slots.size(); ++i) {
    if (b.slots[i] < 0) continue;
    double* s = state.data() + b.slots[i] * H * P * N;
    if (!b.has_initial[i]) std::fill_n(s, H * P * N, 0.0);
    for (int64_t t = b.cu[i]; t < b.cu[i + 1]; ++t)
      for (int64_t h = 0; h < H; ++h) {
        const int64_t g = h / heads_per_group;
        double dt = double(c.a(t, c.dt_col() + h)) + c.dt_bias[size_t(h)];
        dt = dt > 20.0 ? dt : std::log1p(std::exp(dt));
        dt = std::min(std::max(dt, double(c.params.dt_min)), double(c.params.dt_max));
        const double decay = std::exp(dt * c.A[size_t(h)]);
        for (int64_t p = 0; p < P; ++p) {
          const double x = c.a(t, h * P + p);
          double acc = 0.0;
          for (int64_t n = 0; n < N; ++n) {
            double& sv = s[(h * P + p) * N + n];
            sv = decay * sv + dt * x * c.a(t, c.b_col() + g * N + n);
            acc += sv * c.a(t, c.c_col() + g * N + n);
          }
          y[size_t(t * H * P + h * P + p)] = acc + c.D[size_t(h)] * x;
        }
      }
  }
  return y;
}

void expect_close(const std::vector<float>& got, const std::vector<double>& want, double tol, const char* what) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i)
    ASSERT_NEAR(got[i], want[i], tol * (1.0 + std::abs(want[i]))) << what << " element " << i;
}

std::vector<float> run(SsmCase& c, const Batch& b, std::vector<float>& state, ThreadPool& pool,
                       Tensor intermediate = {}, int64_t row0 = 0) {
  const int64_t T = b.cu.back();
  std::vector<float> y(size_t(T * c.H() * c.P()), -7.0f);
  const Tensor state_view = Tensor::contiguous(state.data(), DType::f32, {c.num_slots, c.H(), c.P(), c.N()});
  const Tensor y_view = Tensor::contiguous(y.data(), DType::f32, {T, c.H() * c.P()});
  check_selective_state_update(c.params, c.inputs(row0, T), c.weights(), b.view(), state_view, intermediate, y_view);
  selective_state_update(c.params, c.inputs(row0, T), c.weights(), b.view(), state_view, intermediate, y_view, pool);
  return y;
}

TEST(SelectiveStateUpdate, DecodeMatchesRecurrence) {
  ThreadPool pool(2);
  // N = 40: one 32-wide vector step plus an 8-wide scalar tail; G = 3 groups of 2 heads.
  SsmCase c(6, 5, 40, 3, 4, 5, 1);
  Batch b;
  b.add(1, 3, true);
  b.add(1, -1, true);  // padding row
  b.add(1, 0, false);  // fresh sequence: starts from zeros whatever the slot holds
  b.add(1, 4, true);
  std::vector<double> want_state(c.state.begin(), c.state.end());
  const std::vector<double> want_y = recurrence(c, b, want_state);
  std::vector<float> state = c.state;
  const std::vector<float> y = run(c, b, state, pool);
  expect_close(y, want_y, 2e-5, "y");
  expect_close(state, want_state, 2e-6, "state");  // slots 1 and 2 untouched (padding did nothing)
  for (int64_t e = 0; e < c.H() * c.P(); ++e) ASSERT_EQ(y[size_t(c.H() * c.P() + e)], 0.0f) << "padding y";
}

TEST(SelectiveStateUpdate, LongSequencesMatchRecurrence) {
  ThreadPool pool(2);
  SsmCase c(4, 8, 64, 1, 45, 2, 2);  // 40 tokens cross the internal 16-token chunks
  Batch b;
  b.add(40, 1, true);
  b.add(5, 0, false);
  std::vector<double> want_state(c.state.begin(), c.state.end());
  const std::vector<double> want_y = recurrence(c, b, want_state);
  std::vector<float> state = c.state;
  expect_close(run(c, b, state, pool), want_y, 1e-4, "y");
  expect_close(state, want_state, 1e-5, "state");
}

TEST(SelectiveStateUpdate, DtLimitsClampAfterSoftplus) {
  ThreadPool pool(1);
  SsmCase c(2, 3, 16, 1, 3, 1, 3);
  c.params.dt_min = 0.2f;
  c.params.dt_max = 0.6f;
  Batch b;
  b.add(3, 0, true);
  std::vector<double> want_state(c.state.begin(), c.state.end());
  const std::vector<double> want_y = recurrence(c, b, want_state);
  std::vector<float> state = c.state;
  expect_close(run(c, b, state, pool), want_y, 2e-5, "y");
  // Without the clamp the answer is different: the test can tell.
  c.params.dt_max = std::numeric_limits<float>::infinity();
  std::vector<float> unclamped_state = c.state;
  const std::vector<float> y_unclamped = run(c, b, unclamped_state, pool);
  double diff = 0;
  for (size_t i = 0; i < y_unclamped.size(); ++i) diff = std::max(diff, std::abs(y_unclamped[i] - want_y[i]));
  EXPECT_GT(diff, 1e-3);
}

// Verify of 1+S tokens == 1+S one-token calls, for every intermediate and the final state.
template <typename StateT>
void verify_matches_single_steps(DType dtype) {
  ThreadPool pool(2);
  const int64_t steps = 4, num_seq = 3, num_slots = 4;
  SsmCase c(4, 6, 48, 2, num_seq * steps, num_slots, 9);
  const int64_t per_slot = c.H() * c.P() * c.N();
  std::vector<StateT> initial(c.state.size());
  for (size_t i = 0; i < initial.size(); ++i) {
    if constexpr (sizeof(StateT) == 2) initial[i] = f32_to_bf16(c.state[i]);
    else initial[i] = c.state[i];
  }
  auto pool_view = [&](std::vector<StateT>& s) {
    return Tensor::contiguous(s.data(), dtype, {num_slots, c.H(), c.P(), c.N()});
  };
  Batch verify;
  verify.add(steps, 2, false);  // a fresh sequence verifies too
  verify.add(steps, -1, true);
  verify.add(steps, 0, true);
  std::vector<StateT> state_verify = initial, inter(static_cast<size_t>(num_seq * steps * per_slot));
  const Tensor inter_view = Tensor::contiguous(inter.data(), dtype, {num_seq, steps, c.H(), c.P(), c.N()});
  std::vector<float> y_verify(size_t(num_seq * steps * c.H() * c.P()));
  const Tensor y_view = Tensor::contiguous(y_verify.data(), DType::f32, {num_seq * steps, c.H() * c.P()});
  check_selective_state_update(c.params, c.inputs(0, num_seq * steps), c.weights(), verify.view(), pool_view(state_verify),
                               inter_view, y_view);
  selective_state_update(c.params, c.inputs(0, num_seq * steps), c.weights(), verify.view(), pool_view(state_verify),
                         inter_view, y_view, pool);

  std::vector<StateT> state_step = initial;
  for (int64_t j = 0; j < steps; ++j)
    for (int64_t i = 0; i < num_seq; ++i) {
      const int32_t slot = verify.slots[size_t(i)];
      if (slot < 0) continue;
      Batch b;
      b.add(1, slot, i != 0 || j != 0);
      std::vector<float> y(size_t(c.H() * c.P()));
      const int64_t row = i * steps + j;
      selective_state_update(c.params, c.inputs(row, 1), c.weights(), b.view(), pool_view(state_step), {},
                             Tensor::contiguous(y.data(), DType::f32, {1, c.H() * c.P()}), pool);
      for (size_t e = 0; e < y.size(); ++e) ASSERT_EQ(y[e], y_verify[size_t(row) * y.size() + e]);
      for (int64_t e = 0; e < per_slot; ++e)
        ASSERT_EQ(inter[size_t((i * steps + j) * per_slot + e)], state_step[size_t(slot * per_slot + e)])
            << "sequence " << i << " step " << j;
    }
  EXPECT_EQ(state_verify, state_step);  // includes slots 1 and 3, untouched by both
}

TEST(SelectiveStateUpdate, VerifyIntermediatesEqualSingleStepsF32) { verify_matches_single_steps<float>(DType::f32); }
TEST(SelectiveStateUpdate, VerifyIntermediatesEqualSingleStepsBf16) { verify_matches_single_steps<uint16_t>(DType::bf16); }

TEST(SelectiveStateUpdate, Bf16PoolComputesInF32AndRoundsOnStore) {
  ThreadPool pool(2);
  SsmCase c(4, 3, 40, 2, 2, 2, 21);
  for (float& v : c.state) v = bf16_to_f32(f32_to_bf16(v));  // the oracle starts from the stored values
  Batch b;
  b.add(1, 1, true);
  b.add(1, 0, false);
  std::vector<double> want_state(c.state.begin(), c.state.end());
  const std::vector<double> want_y = recurrence(c, b, want_state);
  std::vector<uint16_t> state(c.state.size());
  for (size_t i = 0; i < state.size(); ++i) state[i] = f32_to_bf16(c.state[i]);
  std::vector<float> y(static_cast<size_t>(2 * 12));
  selective_state_update(c.params, c.inputs(0, 2), c.weights(), b.view(),
                         Tensor::contiguous(state.data(), DType::bf16, {2, 4, 3, 40}), {},
                         Tensor::contiguous(y.data(), DType::f32, {2, 12}), pool);
  expect_close(y, want_y, 2e-5, "y (from the unrounded f32 state)");
  for (size_t i = 0; i < state.size(); ++i)  // stored = round-to-nearest of the f32 result
    ASSERT_NEAR(bf16_to_f32(state[i]), want_state[i], 4e-3 * std::abs(want_state[i]) + 1e-6) << i;
}

TEST(SelectiveStateUpdate, VerifyThenRollbackEqualsShorterRun) {
  // Accept k drafts: copying intermediate[k] into the slot must equal running only 1+k tokens.
  ThreadPool pool(2);
  const int64_t steps = 4, k = 1;
  SsmCase c(3, 4, 32, 1, steps, 1, 12);
  Batch verify;
  verify.add(steps, 0, true);
  std::vector<float> state = c.state, inter(static_cast<size_t>(steps * 3 * 4 * 32));
  run(c, verify, state, pool, Tensor::contiguous(inter.data(), DType::f32, {1, steps, 3, 4, 32}));
  std::vector<float> rolled(inter.begin() + k * 384, inter.begin() + (k + 1) * 384);
  Batch shorter;
  shorter.add(k + 1, 0, true);
  std::vector<double> want(c.state.begin(), c.state.end());
  recurrence(c, shorter, want);
  expect_close(rolled, want, 1e-5, "rolled-back state");
}

TEST(SelectiveStateUpdate, RejectsBadArguments) {
  SsmCase c(4, 2, 16, 2, 2, 2, 4);
  Batch b;
  b.add(2, 0, true);
  std::vector<float> y(2 * 8), inter(static_cast<size_t>(1 * 1 * 4 * 2 * 16));
  const Tensor y_view = Tensor::contiguous(y.data(), DType::f32, {2, 8});
  const Tensor state_view = Tensor::contiguous(c.state.data(), DType::f32, {2, 4, 2, 16});
  auto check = [&](SelectiveStateUpdateParams p, SelectiveStateUpdateInputs in, const Tensor& intermediate) {
    check_selective_state_update(p, in, c.weights(), b.view(), state_view, intermediate, y_view);
  };
  EXPECT_NO_THROW(check(c.params, c.inputs(0, 2), {}));
  SelectiveStateUpdateParams bad = c.params;
  bad.n_groups = 3;
  EXPECT_THROW(check(bad, c.inputs(0, 2), {}), Error);
  bad = c.params;
  bad.dt_min = 2.0f;
  bad.dt_max = 1.0f;
  EXPECT_THROW(check(bad, c.inputs(0, 2), {}), Error);
  SelectiveStateUpdateInputs wrong_dt = c.inputs(0, 2);
  wrong_dt.dt = c.window(c.dt_col(), 3, 0, 2);
  EXPECT_THROW(check(c.params, wrong_dt, {}), Error);
  SelectiveStateUpdateInputs one_row = c.inputs(0, 1);
  EXPECT_THROW(check(c.params, one_row, {}), Error);  // batch says 2 tokens
  EXPECT_THROW(check(c.params, c.inputs(0, 2), Tensor::contiguous(inter.data(), DType::f32, {1, 1, 4, 2, 16})), Error);
  EXPECT_THROW(check(c.params, c.inputs(0, 2), Tensor::contiguous(inter.data(), DType::bf16, {1, 2, 4, 2, 16})), Error);
  try {
    bad = c.params;
    bad.state_size = 1024;
    check(bad, c.inputs(0, 2), {});
    FAIL() << "expected a throw";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("state_dim"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace strata::kernels::cpu
