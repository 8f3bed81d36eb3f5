// Causal conv1d against a plain double-precision oracle: packed prefill with mixed lengths and
// initial states, prefill in pieces, one-token decode chains, speculative verify intermediates,
// bf16 state pools, padding rows and hostile shapes.
#include "strata/kernels/cpu/conv1d.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <cstdint>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "varlen_batch_builder.h"

#include "strata/core/dtype.h"
#include "strata/core/error.h"
#include "strata/kernels/cpu/activations.h"

namespace strata::kernels::cpu {
namespace {

std::vector<float> random_vector(size_t n, std::mt19937& rng, float scale = 1.0f) {
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> v(n);
  for (float& f : v) f = dist(rng);
  return v;
}

Tensor rows_view(float* data, int64_t rows, int64_t cols, int64_t row_stride) {
  Tensor t = Tensor::contiguous(data, DType::f32, {rows, cols});
  t.strides[0] = row_stride;
  return t;
}

// One conv problem: packed activations (row stride wider than conv_dim) plus weights and a pool.
struct ConvCase {
  int64_t conv_dim, K, num_slots, x_stride;
  std::vector<float> x, weight, bias, state;
  ConvCase(int64_t conv_dim_, int64_t K_, int64_t num_tokens, int64_t num_slots_, std::mt19937& rng)
      : conv_dim(conv_dim_), K(K_), num_slots(num_slots_), x_stride(conv_dim_ + 7) {
    x = random_vector(static_cast<size_t>(num_tokens * x_stride), rng);
    weight = random_vector(static_cast<size_t>(conv_dim * K), rng, 0.5f);
    bias = random_vector(static_cast<size_t>(conv_dim), rng, 0.3f);
    state = random_vector(static_cast<size_t>(num_slots * (K - 1) * conv_dim), rng);
  }
  int64_t num_tokens() const { return static_cast<int64_t>(x.size()) / x_stride; }
  CausalConv1dParams params() const { return {conv_dim, K, true}; }
  Tensor x_view() { return rows_view(x.data(), num_tokens(), conv_dim, x_stride); }
  Tensor weight_view() { return Tensor::contiguous(weight.data(), DType::f32, {conv_dim, K}); }
  Tensor bias_view() { return Tensor::contiguous(bias.data(), DType::f32, {conv_dim}); }
  Tensor state_view(std::vector<float>& s) { return Tensor::contiguous(s.data(), DType::f32, {num_slots, K - 1, conv_dim}); }
};

double silu_double(double v) { return v / (1.0 + std::exp(-v)); }

// Oracle: out and final state per sequence from concat(initial rows or zeros, inputs).
void conv_oracle(const ConvCase& c, const Batch& b, const std::vector<float>& state_before, std::vector<double>& out,
                 std::vector<float>& state_after) {
  const int64_t K = c.K, C = c.conv_dim;
  out.assign(static_cast<size_t>(c.num_tokens() * C), 0.0);
  state_after = state_before;
  for (size_t i = 0; i < b.slots.size(); ++i) {
    const int64_t begin = b.cu[i], length = b.cu[i + 1] - b.cu[i], slot = b.slots[i];
    std::vector<std::vector<float>> full;  // rows
    for (int64_t r = 0; r < K - 1; ++r) {
      std::vector<float> row(static_cast<size_t>(C), 0.0f);
      if (b.has_initial[i])
        for (int64_t ch = 0; ch < C; ++ch) row[static_cast<size_t>(ch)] = state_before[static_cast<size_t>((slot * (K - 1) + r) * C + ch)];
      full.push_back(row);
    }
    for (int64_t t = 0; t < length; ++t)
      full.emplace_back(c.x.begin() + (begin + t) * c.x_stride, c.x.begin() + (begin + t) * c.x_stride + C);
    for (int64_t t = 0; t < length; ++t)
      for (int64_t ch = 0; ch < C; ++ch) {
        double acc = c.bias[static_cast<size_t>(ch)];
        for (int64_t w = 0; w < K; ++w)
          acc += static_cast<double>(c.weight[static_cast<size_t>(ch * K + w)]) * full[static_cast<size_t>(t + w)][static_cast<size_t>(ch)];
        out[static_cast<size_t>((begin + t) * C + ch)] = silu_double(acc);
      }
    for (int64_t r = 0; r < K - 1; ++r)
      for (int64_t ch = 0; ch < C; ++ch)
        state_after[static_cast<size_t>((slot * (K - 1) + r) * C + ch)] = full[full.size() - static_cast<size_t>(K - 1 - r)][static_cast<size_t>(ch)];
  }
}

void expect_close(const std::vector<float>& got, const std::vector<double>& want, double tol) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i)
    ASSERT_NEAR(got[i], want[i], tol * (1.0 + std::abs(want[i]))) << "at element " << i;
}

TEST(CausalConv1d, PrefillMixedLengthsMatchesOracle) {
  ThreadPool pool(2);
  for (int64_t K : {2, 3, 4, 8}) {
    std::mt19937 rng(static_cast<uint32_t>(K));
    Batch b;
    // Lengths below K-1, an empty sequence, and long ones; slots out of order; one slot left unused.
    const int64_t lengths[] = {1, 2, 9, 0, 40, 3};
    const int32_t slots[] = {5, 0, 2, 1, 3, 4};
    const bool initial[] = {true, false, true, true, false, true};
    for (int i = 0; i < 6; ++i) b.add(lengths[i], slots[i], initial[i]);
    ConvCase c(70, K, b.cu.back(), 7, rng);
    std::vector<float> state = c.state, want_state;
    std::vector<double> want_out;
    conv_oracle(c, b, c.state, want_out, want_state);

    std::vector<float> out(static_cast<size_t>(c.num_tokens() * c.conv_dim), -1.0f);
    Tensor out_view = Tensor::contiguous(out.data(), DType::f32, {c.num_tokens(), c.conv_dim});
    check_causal_conv1d(c.params(), c.x_view(), c.weight_view(), c.bias_view(), b.view(), c.state_view(state), {},
                        out_view, false);
    causal_conv1d_prefill(c.params(), c.x_view(), c.weight_view(), c.bias_view(), b.view(), c.state_view(state),
                          out_view, pool);
    expect_close(out, want_out, 1e-5);
    EXPECT_EQ(state, want_state) << "K=" << K;  // states are copies of inputs: exact (slot 6 untouched)
  }
}

TEST(CausalConv1d, PrefillWithoutBiasOrSilu) {
  ThreadPool pool(1);
  std::mt19937 rng(11);
  Batch b;
  b.add(5, 0, true);
  ConvCase c(20, 4, 5, 1, rng);
  std::vector<float> state = c.state, out(100);
  CausalConv1dParams params{20, 4, false};
  causal_conv1d_prefill(params, c.x_view(), c.weight_view(), Tensor{}, b.view(), c.state_view(state),
                        Tensor::contiguous(out.data(), DType::f32, {5, 20}), pool);
  // Token 4 sees only inputs 1..4 (no state): a plain dot product.
  for (int64_t ch = 0; ch < 20; ++ch) {
    double want = 0;
    for (int64_t w = 0; w < 4; ++w) want += double(c.weight[size_t(ch * 4 + w)]) * c.x[size_t((1 + w) * c.x_stride + ch)];
    EXPECT_NEAR(out[size_t(4 * 20 + ch)], want, 1e-5);
  }
}

TEST(CausalConv1d, PrefillInPiecesEqualsWhole) {
  ThreadPool pool(2);
  std::mt19937 rng(3);
  const int64_t K = 4, T = 37;
  ConvCase c(100, K, T, 2, rng);
  Batch whole;
  whole.add(T, 1, false);
  std::vector<float> state_whole = c.state, out_whole(static_cast<size_t>(T * 100));
  causal_conv1d_prefill(c.params(), c.x_view(), c.weight_view(), c.bias_view(), whole.view(), c.state_view(state_whole),
                        Tensor::contiguous(out_whole.data(), DType::f32, {T, 100}), pool);

  std::vector<float> state_pieces = c.state, out_pieces(static_cast<size_t>(T * 100));
  int64_t start = 0;
  for (int64_t piece : {5, 1, 2, 29}) {
    Batch b;
    b.add(piece, 1, start > 0);
    Tensor x = c.x_view().slice(start, start + piece);
    causal_conv1d_prefill(c.params(), x, c.weight_view(), c.bias_view(), b.view(), c.state_view(state_pieces),
                          Tensor::contiguous(out_pieces.data() + start * 100, DType::f32, {piece, 100}), pool);
    start += piece;
  }
  EXPECT_EQ(out_pieces, out_whole);
  EXPECT_EQ(state_pieces, state_whole);
}

TEST(CausalConv1d, DecodeOneTokenAtATimeEqualsPrefill) {
  ThreadPool pool(2);
  std::mt19937 rng(4);
  const int64_t K = 4, C = 90, T = 12, prompt = 3;
  ConvCase c(C, K, 2 * T, 3, rng);  // two sequences of T tokens: rows [0, T) and [T, 2T)
  Batch whole;
  whole.add(T, 0, false);
  whole.add(T, 2, true);
  std::vector<float> state_whole = c.state, out_whole(static_cast<size_t>(2 * T * C));
  causal_conv1d_prefill(c.params(), c.x_view(), c.weight_view(), c.bias_view(), whole.view(), c.state_view(state_whole),
                        Tensor::contiguous(out_whole.data(), DType::f32, {2 * T, C}), pool);

  std::vector<float> state = c.state, out(size_t(2 * T * C), 0.0f);
  for (int64_t s = 0; s < 2; ++s) {
    Batch b;
    b.add(prompt, s == 0 ? 0 : 2, s == 1);
    causal_conv1d_prefill(c.params(), c.x_view().slice(s * T, s * T + prompt), c.weight_view(), c.bias_view(), b.view(),
                          c.state_view(state), Tensor::contiguous(out.data() + s * T * C, DType::f32, {prompt, C}), pool);
  }
  std::vector<float> x_step(static_cast<size_t>(3 * C)), out_step(static_cast<size_t>(3 * C));
  for (int64_t t = prompt; t < T; ++t) {
    // Rows: sequence 0, a padding row, sequence 1.
    std::copy_n(c.x.begin() + t * c.x_stride, C, x_step.begin());
    std::fill_n(x_step.begin() + C, C, 1e30f);
    std::copy_n(c.x.begin() + (T + t) * c.x_stride, C, x_step.begin() + 2 * C);
    Batch b;
    b.add(1, 0, true);
    b.add(1, -1, true);
    b.add(1, 2, true);
    const Tensor x = Tensor::contiguous(x_step.data(), DType::f32, {3, C});
    const Tensor o = Tensor::contiguous(out_step.data(), DType::f32, {3, C});
    check_causal_conv1d(c.params(), x, c.weight_view(), c.bias_view(), b.view(), c.state_view(state), {}, o, true);
    causal_conv1d_decode(c.params(), x, c.weight_view(), c.bias_view(), b.view(), c.state_view(state), {}, o, pool);
    std::copy_n(out_step.begin(), C, out.begin() + t * C);
    for (int64_t ch = 0; ch < C; ++ch) ASSERT_EQ(out_step[size_t(C + ch)], 0.0f) << "padding row";
    std::copy_n(out_step.begin() + 2 * C, C, out.begin() + (T + t) * C);
  }
  EXPECT_EQ(out, out_whole);
  EXPECT_EQ(state, state_whole);  // slot 1 untouched by the padding row in both
}

// A verify call of 1+S tokens leaves in intermediate[i][j] exactly the state of j+1 single-token calls.
template <typename StateT>
void verify_matches_single_steps(DType dtype) {
  ThreadPool pool(2);
  std::mt19937 rng(5);
  const int64_t K = 4, C = 40, S = 3, steps = S + 1, num_seq = 2, num_slots = 3;
  ConvCase c(C, K, num_seq * steps, num_slots, rng);
  std::vector<StateT> initial(c.state.size());
  for (size_t i = 0; i < initial.size(); ++i) {
    if constexpr (sizeof(StateT) == 2) initial[i] = f32_to_bf16(c.state[i]);
    else initial[i] = c.state[i];
  }
  auto state_tensor = [&](std::vector<StateT>& s) {
    return Tensor::contiguous(s.data(), dtype, {num_slots, K - 1, C});
  };
  Batch verify;
  verify.add(steps, 2, false);  // a fresh sequence verifies too
  verify.add(steps, 0, true);
  std::vector<StateT> state_verify = initial, inter(size_t(num_seq * (steps + 1) * (K - 1) * C));
  std::vector<float> out_verify(static_cast<size_t>(num_seq * steps * C));
  const Tensor inter_view = Tensor::contiguous(inter.data(), dtype, {num_seq, steps + 1, K - 1, C});
  const Tensor out_view = Tensor::contiguous(out_verify.data(), DType::f32, {num_seq * steps, C});
  check_causal_conv1d(c.params(), c.x_view(), c.weight_view(), c.bias_view(), verify.view(), state_tensor(state_verify),
                      inter_view, out_view, true);
  causal_conv1d_decode(c.params(), c.x_view(), c.weight_view(), c.bias_view(), verify.view(), state_tensor(state_verify),
                       inter_view, out_view, pool);

  std::vector<StateT> state_step = initial;
  for (int64_t j = 0; j < steps; ++j) {
    for (int64_t i = 0; i < num_seq; ++i) {
      Batch b;
      b.add(1, verify.slots[size_t(i)], i != 0 || j != 0);
      std::vector<float> o(static_cast<size_t>(C));
      const int64_t row = i * steps + j;
      causal_conv1d_decode(c.params(), c.x_view().slice(row, row + 1), c.weight_view(), c.bias_view(), b.view(),
                           state_tensor(state_step), {}, Tensor::contiguous(o.data(), DType::f32, {1, C}), pool);
      for (int64_t ch = 0; ch < C; ++ch) ASSERT_EQ(o[size_t(ch)], out_verify[size_t(row * C + ch)]);
      const int64_t slot = verify.slots[size_t(i)];
      for (int64_t e = 0; e < (K - 1) * C; ++e)
        ASSERT_EQ(inter[size_t(((i * (steps + 1) + j) * (K - 1)) * C + e)], state_step[size_t(slot * (K - 1) * C + e)])
            << "sequence " << i << " step " << j;
    }
  }
  EXPECT_EQ(state_verify, state_step);
}

TEST(CausalConv1d, VerifyIntermediatesEqualSingleStepsF32) { verify_matches_single_steps<float>(DType::f32); }
TEST(CausalConv1d, VerifyIntermediatesEqualSingleStepsBf16) { verify_matches_single_steps<uint16_t>(DType::bf16); }

TEST(CausalConv1d, Bf16StatePrefillMatchesOracleOnRoundedState) {
  ThreadPool pool(2);
  std::mt19937 rng(6);
  const int64_t K = 4, C = 50;
  Batch b;
  b.add(2, 1, true);
  b.add(6, 0, true);
  ConvCase c(C, K, 8, 2, rng);
  std::vector<uint16_t> state(c.state.size());
  std::vector<float> rounded(c.state.size());
  for (size_t i = 0; i < state.size(); ++i) {
    state[i] = f32_to_bf16(c.state[i]);
    rounded[i] = bf16_to_f32(state[i]);
  }
  std::vector<double> want_out;
  std::vector<float> want_state;
  conv_oracle(c, b, rounded, want_out, want_state);
  std::vector<float> out(static_cast<size_t>(8 * C));
  causal_conv1d_prefill(c.params(), c.x_view(), c.weight_view(), c.bias_view(), b.view(),
                        Tensor::contiguous(state.data(), DType::bf16, {2, K - 1, C}),
                        Tensor::contiguous(out.data(), DType::f32, {8, C}), pool);
  expect_close(out, want_out, 1e-5);
  for (size_t i = 0; i < state.size(); ++i) ASSERT_EQ(state[i], f32_to_bf16(want_state[i])) << i;
}

TEST(CausalConv1d, VectorActivationsMatchScalar) {
#if defined(__AVX512F__)
  for (float v = -100.0f; v < 100.0f; v += 0.37f) {
    alignas(64) float got[16];
    const float e = std::clamp(v, -80.0f, 88.0f);  // the finite, normal range of f32 exp
    _mm512_storeu_ps(got, exp_ps(_mm512_set1_ps(e)));
    const double want = std::exp(double(e));
    ASSERT_NEAR(got[0], want, 3e-7 * want) << v;
    _mm512_storeu_ps(got, silu_ps(_mm512_set1_ps(v)));
    ASSERT_NEAR(got[0], silu_double(v), 1e-6 * (1 + std::abs(v))) << v;
    ASSERT_FALSE(std::isnan(got[0]));
  }
  // bf16 rounding in the vector store agrees with the scalar reference, including ties and NaN.
  const float samples[16] = {1.0f, 1.00390625f, 1.005859375f, -3.3f, 1e-40f, -1e-40f, 65504.0f, 3.4e38f,
                             std::numeric_limits<float>::infinity(), std::nanf(""), 0.0f, -0.0f, 1.0f / 3, 2.0f / 3, 7.0f, -7.5f};
  alignas(32) uint16_t packed[16];
  store_bf16x16(packed, _mm512_loadu_ps(samples));
  for (int i = 0; i < 16; ++i) EXPECT_EQ(packed[i], f32_to_bf16(samples[i])) << i;
#else
  GTEST_SKIP() << "AVX-512 not enabled in this build";
#endif
}

TEST(CausalConv1d, RejectsBadArguments) {
  std::mt19937 rng(7);
  Batch b;
  b.add(3, 0, true);
  ConvCase c(16, 4, 3, 2, rng);
  std::vector<float> out(48), inter(2 * 3 * 16);
  const Tensor o = Tensor::contiguous(out.data(), DType::f32, {3, 16});
  auto check = [&](CausalConv1dParams p, const Tensor& weight, const Batch& batch, const Tensor& intermediate, bool decode) {
    check_causal_conv1d(p, c.x_view(), weight, c.bias_view(), batch.view(), c.state_view(c.state), intermediate, o, decode);
  };
  EXPECT_NO_THROW(check(c.params(), c.weight_view(), b, {}, false));
  EXPECT_THROW(check({16, 9, true}, c.weight_view(), b, {}, false), Error);
  EXPECT_THROW(check(c.params(), Tensor::contiguous(c.weight.data(), DType::f32, {4, 16}), b, {}, false), Error);
  Batch bad_slot;
  bad_slot.add(3, 2, true);
  EXPECT_THROW(check(c.params(), c.weight_view(), bad_slot, {}, false), Error);
  Batch padding;
  padding.add(3, -1, true);
  EXPECT_THROW(check(c.params(), c.weight_view(), padding, {}, false), Error);
  EXPECT_NO_THROW(check(c.params(), c.weight_view(), padding, {}, true));
  Batch short_batch;
  short_batch.add(2, 0, true);
  EXPECT_THROW(check(c.params(), c.weight_view(), short_batch, {}, false), Error);
  const Tensor two_steps = Tensor::contiguous(inter.data(), DType::f32, {1, 2, 3, 16});
  EXPECT_THROW(check(c.params(), c.weight_view(), b, two_steps, true), Error);   // 3 tokens need 3 steps
  EXPECT_THROW(check(c.params(), c.weight_view(), b, two_steps, false), Error);  // prefill writes none
  try {
    check(c.params(), Tensor::contiguous(c.weight.data(), DType::f32, {16, 3}), b, {}, false);
    FAIL() << "expected a throw";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("weight"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace strata::kernels::cpu
