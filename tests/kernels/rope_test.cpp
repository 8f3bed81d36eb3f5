// RoPE against transformers' formula written out in double (q*cos + rotate_half(q)*sin for NeoX, the
// interleaved pairs for GPT-J), partial rotary dims, strided rows, positions from a varlen batch, and
// the boundary checks.
#include "strata/kernels/cpu/rope.h"

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "strata/core/error.h"

namespace strata::kernels::cpu {
namespace {

// HF: inv_freq = theta^(-2i/rotary_dim); emb = cat(freqs, freqs); out = x*cos(emb) + rotate_half(x)*sin(emb)
// with rotate_half(x) = cat(-x2, x1) over the rotary part; GPT-J pairs (2i, 2i+1) instead.
std::vector<double> reference(const std::vector<float>& x, int64_t row_stride, int64_t T, int64_t heads, int64_t hd,
                              int64_t rotary_dim, double theta, RopeStyle style, const std::vector<int64_t>& positions) {
  std::vector<double> out(x.begin(), x.end());
  const int64_t half = rotary_dim / 2;
  for (int64_t t = 0; t < T; ++t)
    for (int64_t h = 0; h < heads; ++h) {
      const int64_t base = t * row_stride + h * hd;
      for (int64_t d = 0; d < rotary_dim; ++d) {
        int64_t i, partner;
        double sign;
        if (style == RopeStyle::neox) {
          i = d % half;
          partner = d < half ? d + half : d - half;
          sign = d < half ? -1.0 : 1.0;  // rotate_half: first half takes -x2, second half takes x1
        } else {
          i = d / 2;
          partner = d % 2 == 0 ? d + 1 : d - 1;
          sign = d % 2 == 0 ? -1.0 : 1.0;
        }
        const double angle = double(positions[size_t(t)]) * std::pow(theta, -2.0 * double(i) / double(rotary_dim));
        out[size_t(base + d)] = x[size_t(base + d)] * std::cos(angle) + sign * x[size_t(base + partner)] * std::sin(angle);
      }
    }
  return out;
}

struct RopeCase {
  RopeStyle style;
  int64_t head_dim, rotary_dim;
  float theta;
};

class Rope : public ::testing::TestWithParam<RopeCase> {};

TEST_P(Rope, MatchesTheReferenceFormula) {
  const RopeCase c = GetParam();
  const int64_t T = 9, heads = 3, width = heads * c.head_dim, row_stride = width + 7;
  std::mt19937 rng(static_cast<uint32_t>(c.head_dim + c.rotary_dim));
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> x(size_t(T * row_stride));
  for (float& v : x) v = normal(rng);
  const std::vector<int64_t> positions{0, 1, 2, 17, 100, 511, 3, 4000, 0};
  const std::vector<double> expected = reference(x, row_stride, T, heads, c.head_dim, c.rotary_dim, c.theta, c.style, positions);
  Tensor view = Tensor::contiguous(x.data(), DType::f32, {T, width});
  view.strides[0] = row_stride;
  const RopeParams params{heads, c.head_dim, c.rotary_dim, c.theta, c.style};
  check_rope(params, view, positions);
  ThreadPool pool(2);
  apply_rope(params, view, positions, pool);
  // f32 angles (as transformers computes them) drift by ~position * 2^-24 rad from the double angle.
  for (int64_t t = 0; t < T; ++t)
    for (int64_t col = 0; col < row_stride; ++col) {
      const double tolerance = 2e-6 + 1.5e-6 * double(positions[size_t(t)]);
      ASSERT_NEAR(x[size_t(t * row_stride + col)], expected[size_t(t * row_stride + col)], tolerance)
          << "token " << t << " column " << col;
    }
  // Position 0 is exactly the identity.
  for (int64_t col = 0; col < width; ++col) EXPECT_EQ(double(x[size_t(col)]), expected[size_t(col)]);
}

INSTANTIATE_TEST_SUITE_P(Styles, Rope,
                         ::testing::Values(RopeCase{RopeStyle::neox, 64, 64, 10000.0f},
                                           RopeCase{RopeStyle::neox, 24, 16, 500000.0f},  // partial rotary
                                           RopeCase{RopeStyle::gptj, 64, 64, 10000.0f},
                                           RopeCase{RopeStyle::gptj, 40, 8, 10000.0f}));

TEST(Rope, StylesDifferWhereThePairingDiffers) {
  // A vector with a single non-zero entry at d = 1: NeoX rotates it with d = 1 + half, GPT-J with d = 0.
  const int64_t hd = 8;
  std::vector<float> neox(hd, 0.0f), gptj(hd, 0.0f);
  neox[1] = gptj[1] = 1.0f;
  const std::vector<int64_t> positions{1};
  ThreadPool pool(1);
  apply_rope({1, hd, hd, 10000.0f, RopeStyle::neox}, Tensor::contiguous(neox.data(), DType::f32, {1, hd}), positions, pool);
  apply_rope({1, hd, hd, 10000.0f, RopeStyle::gptj}, Tensor::contiguous(gptj.data(), DType::f32, {1, hd}), positions, pool);
  const double w_neox = std::pow(10000.0, -2.0 / 8.0);  // pair index 1
  EXPECT_NEAR(neox[1], std::cos(w_neox), 1e-6);
  EXPECT_NEAR(neox[5], std::sin(w_neox), 1e-6);
  EXPECT_NEAR(gptj[0], -std::sin(1.0), 1e-6);  // pair index 0, frequency 1
  EXPECT_NEAR(gptj[1], std::cos(1.0), 1e-6);
}

TEST(Rope, PositionsComeFromEachSequencesStart) {
  const std::vector<int64_t> cu{0, 3, 3, 4}, starts{10, 99, 0};
  const std::vector<int32_t> slots{0, 1, 2};
  const std::vector<uint8_t> initial{1, 1, 0};
  std::vector<int64_t> positions(4);
  rope_positions({cu, slots, initial}, starts, positions);
  EXPECT_EQ(positions, (std::vector<int64_t>{10, 11, 12, 0}));
  std::vector<int64_t> short_positions(3);
  EXPECT_THROW(rope_positions({cu, slots, initial}, starts, short_positions), Error);
}

TEST(Rope, CheckRejectsBadParamsAndShapes) {
  std::vector<float> x(2 * 32);
  const Tensor view = Tensor::contiguous(x.data(), DType::f32, {2, 32});
  const std::vector<int64_t> positions{0, 1};
  EXPECT_NO_THROW(check_rope({2, 16, 16, 10000.0f, RopeStyle::neox}, view, positions));
  EXPECT_THROW(check_rope({2, 16, 15, 10000.0f, RopeStyle::neox}, view, positions), Error);  // odd
  EXPECT_THROW(check_rope({2, 16, 18, 10000.0f, RopeStyle::neox}, view, positions), Error);  // > head_dim
  EXPECT_THROW(check_rope({2, 16, 16, 0.0f, RopeStyle::neox}, view, positions), Error);      // theta
  EXPECT_THROW(check_rope({4, 16, 16, 10000.0f, RopeStyle::neox}, view, positions), Error);  // width
  EXPECT_THROW(check_rope({2, 16, 16, 10000.0f, RopeStyle::neox}, view, std::vector<int64_t>{0}), Error);
  EXPECT_THROW(check_rope({2, 16, 16, 10000.0f, RopeStyle::neox}, view, std::vector<int64_t>{0, -1}), Error);
}

}  // namespace
}  // namespace strata::kernels::cpu
