// Gated RMSNorm (gate before norm, per group) and plain RMSNorm against double-precision oracles,
// with strided inputs, in-place output, extreme gates and hostile shapes.
#include "strata/kernels/cpu/rms_norm.h"

#include <cmath>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "strata/core/error.h"

namespace strata::kernels::cpu {
namespace {

std::vector<float> random_vector(size_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
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

// y and z as column windows of one [T, 2E + 5] buffer (z first, then y, like zxBCdt's neighbours).
std::vector<double> gated_oracle(const std::vector<float>& buf, int64_t T, int64_t E, int64_t stride, int64_t G,
                                 const std::vector<float>& weight, double eps) {
  std::vector<double> out(static_cast<size_t>(T * E));
  const int64_t group = E / G;
  for (int64_t t = 0; t < T; ++t)
    for (int64_t g = 0; g < G; ++g) {
      double sum = 0;
      std::vector<double> v(static_cast<size_t>(group));
      for (int64_t c = 0; c < group; ++c) {
        const double z = buf[size_t(t * stride + g * group + c)];
        const double y = buf[size_t(t * stride + E + g * group + c)];
        v[size_t(c)] = y * z / (1.0 + std::exp(-z));
        sum += v[size_t(c)] * v[size_t(c)];
      }
      const double rstd = 1.0 / std::sqrt(sum / double(group) + eps);
      for (int64_t c = 0; c < group; ++c)
        out[size_t(t * E + g * group + c)] = v[size_t(c)] * rstd * weight[size_t(g * group + c)];
    }
  return out;
}

void expect_close(const float* got, const std::vector<double>& want, int64_t T, int64_t E, int64_t stride, double tol) {
  for (int64_t t = 0; t < T; ++t)
    for (int64_t c = 0; c < E; ++c)
      ASSERT_NEAR(got[t * stride + c], want[size_t(t * E + c)], tol * (1 + std::abs(want[size_t(t * E + c)])))
          << "row " << t << " channel " << c;
}

TEST(GatedRmsNorm, MatchesOracleForOneAndManyGroups) {
  ThreadPool pool(2);
  const int64_t T = 5, E = 200, stride = 2 * E + 5;
  const std::vector<float> buf = random_vector(size_t(T * stride), 1, 2.0f);
  const std::vector<float> weight = random_vector(size_t(E), 2);
  for (int64_t G : {1, 4, 8}) {  // group sizes 200, 50, 25: vector bodies and scalar tails
    std::vector<float> in = buf, out(static_cast<size_t>(T * E));
    const Tensor z = rows_view(in.data(), T, E, stride), y = rows_view(in.data() + E, T, E, stride);
    const Tensor w = Tensor::contiguous(const_cast<float*>(weight.data()), DType::f32, {E});
    const Tensor o = Tensor::contiguous(out.data(), DType::f32, {T, E});
    const GatedRmsNormParams params{G, 1e-5f};
    check_gated_rms_norm(params, y, z, w, o);
    gated_rms_norm(params, y, z, w, o, pool);
    expect_close(out.data(), gated_oracle(buf, T, E, stride, G, weight, 1e-5), T, E, E, 2e-6);
  }
}

TEST(GatedRmsNorm, GroupsChangeTheAnswer) {
  // A G>1 norm must not equal the whole-width norm when groups have different scales.
  ThreadPool pool(1);
  const int64_t T = 1, E = 64, stride = 2 * E + 5;
  std::vector<float> buf = random_vector(size_t(stride), 3);
  for (int64_t c = 0; c < 32; ++c) buf[size_t(E + c)] *= 10.0f;  // first half of y is larger
  const std::vector<float> weight(size_t(E), 1.0f);
  std::vector<float> one(static_cast<size_t>(E)), two(static_cast<size_t>(E));
  const Tensor z = rows_view(buf.data(), T, E, stride), y = rows_view(buf.data() + E, T, E, stride);
  const Tensor w = Tensor::contiguous(const_cast<float*>(weight.data()), DType::f32, {E});
  gated_rms_norm({1, 1e-5f}, y, z, w, Tensor::contiguous(one.data(), DType::f32, {T, E}), pool);
  gated_rms_norm({2, 1e-5f}, y, z, w, Tensor::contiguous(two.data(), DType::f32, {T, E}), pool);
  expect_close(two.data(), gated_oracle(buf, T, E, stride, 2, weight, 1e-5), T, E, E, 2e-6);
  EXPECT_GT(std::abs(two[40] - one[40]), 1e-2 * std::abs(two[40]));
}

TEST(GatedRmsNorm, InPlaceAndExtremeGates) {
  ThreadPool pool(2);
  const int64_t T = 3, E = 48, stride = 2 * E + 5;
  std::vector<float> buf = random_vector(size_t(T * stride), 4);
  for (int64_t t = 0; t < T; ++t) {
    buf[size_t(t * stride + 0)] = -100.0f;  // silu(-100) ~ -4e-42: gate shuts the channel
    buf[size_t(t * stride + 1)] = 100.0f;   // silu(100) = 100
    buf[size_t(t * stride + 17)] = -1e4f;
  }
  const std::vector<float> weight = random_vector(size_t(E), 5);
  const std::vector<double> want = gated_oracle(buf, T, E, stride, 1, weight, 1e-5);
  std::vector<float> in = buf;
  const Tensor z = rows_view(in.data(), T, E, stride), y = rows_view(in.data() + E, T, E, stride);
  const Tensor w = Tensor::contiguous(const_cast<float*>(weight.data()), DType::f32, {E});
  check_gated_rms_norm({1, 1e-5f}, y, z, w, y);
  gated_rms_norm({1, 1e-5f}, y, z, w, y, pool);  // out aliases y
  for (int64_t t = 0; t < T; ++t)
    for (int64_t c = 0; c < E; ++c) ASSERT_FALSE(std::isnan(in[size_t(t * stride + E + c)]));
  expect_close(in.data() + E, want, T, E, stride, 2e-6);
}

TEST(RmsNorm, MatchesOracle) {
  ThreadPool pool(2);
  const int64_t T = 4, D = 77, stride = 90;
  const std::vector<float> buf = random_vector(size_t(T * stride), 6, 3.0f);
  const std::vector<float> weight = random_vector(size_t(D), 7);
  std::vector<double> want(static_cast<size_t>(T * D));
  for (int64_t t = 0; t < T; ++t) {
    double sum = 0;
    for (int64_t c = 0; c < D; ++c) sum += double(buf[size_t(t * stride + c)]) * buf[size_t(t * stride + c)];
    const double rstd = 1.0 / std::sqrt(sum / D + 1e-6);
    for (int64_t c = 0; c < D; ++c) want[size_t(t * D + c)] = buf[size_t(t * stride + c)] * rstd * weight[size_t(c)];
  }
  std::vector<float> in = buf, out(static_cast<size_t>(T * D));
  const Tensor x = rows_view(in.data(), T, D, stride);
  const Tensor w = Tensor::contiguous(const_cast<float*>(weight.data()), DType::f32, {D});
  check_rms_norm({1e-6f}, x, w, Tensor::contiguous(out.data(), DType::f32, {T, D}));
  rms_norm({1e-6f}, x, w, Tensor::contiguous(out.data(), DType::f32, {T, D}), pool);
  expect_close(out.data(), want, T, D, D, 2e-6);
  // In place, too.
  rms_norm({1e-6f}, x, w, x, pool);
  expect_close(in.data(), want, T, D, stride, 2e-6);
}

TEST(RmsNorm, ZeroRowIsFiniteThanksToEps) {
  ThreadPool pool(1);
  std::vector<float> x(32, 0.0f), w(32, 1.0f), out(32, 9.0f);
  rms_norm({1e-5f}, Tensor::contiguous(x.data(), DType::f32, {1, 32}), Tensor::contiguous(w.data(), DType::f32, {32}),
           Tensor::contiguous(out.data(), DType::f32, {1, 32}), pool);
  for (float v : out) EXPECT_EQ(v, 0.0f);
}

TEST(GatedRmsNorm, RejectsBadArguments) {
  std::vector<float> a(60), b(60), w(20), o(60);
  const Tensor y = Tensor::contiguous(a.data(), DType::f32, {3, 20}), z = Tensor::contiguous(b.data(), DType::f32, {3, 20});
  const Tensor weight = Tensor::contiguous(w.data(), DType::f32, {20}), out = Tensor::contiguous(o.data(), DType::f32, {3, 20});
  EXPECT_NO_THROW(check_gated_rms_norm({4, 1e-5f}, y, z, weight, out));
  EXPECT_THROW(check_gated_rms_norm({3, 1e-5f}, y, z, weight, out), Error);  // 20 % 3
  EXPECT_THROW(check_gated_rms_norm({1, 0.0f}, y, z, weight, out), Error);
  EXPECT_THROW(check_gated_rms_norm({1, 1e-5f}, y, Tensor::contiguous(b.data(), DType::f32, {2, 20}), weight, out), Error);
  EXPECT_THROW(check_gated_rms_norm({1, 1e-5f}, y, z, Tensor::contiguous(w.data(), DType::f32, {19}), out), Error);
  EXPECT_THROW(check_gated_rms_norm({1, 1e-5f}, y, z, weight, Tensor::contiguous(o.data(), DType::bf16, {3, 20})), Error);
  EXPECT_THROW(check_rms_norm({1e-5f}, y, Tensor::contiguous(w.data(), DType::f32, {10}), out), Error);
  try {
    check_gated_rms_norm({1, 1e-5f}, y, Tensor{}, weight, out);
    FAIL() << "expected a throw";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("z"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace strata::kernels::cpu
