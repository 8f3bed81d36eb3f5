#include "strata/kernels/cpu/gemm.h"

#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "strata/core/error.h"
#include "strata/kernels/cpu/gemm_kernels.h"

namespace strata::kernels {
namespace {

// One GEMM problem with its operands in owned storage; views may be strided (padded rows).
struct Case {
  int64_t m, n, k;
  DType weight_dtype = DType::bf16;
  int64_t x_pad = 0, y_pad = 0, w_pad = 0;  // extra elements per row
  bool bias = false;
  DType bias_dtype = DType::f32;
  bool accumulate = false;
};

struct Problem {
  Case c;
  std::vector<float> x, y, bias32;
  std::vector<uint16_t> w16, bias16;
  std::vector<float> w32;
  std::vector<double> w_exact, bias_exact;  // the values the stored dtypes really hold
  Tensor xt, wt, yt, bt;

  explicit Problem(const Case& cs, uint32_t seed = 1) : c(cs) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
    const int64_t ldx = c.k + c.x_pad, ldy = c.n + c.y_pad, ldw = c.k + c.w_pad;
    x.assign(static_cast<size_t>(std::max<int64_t>(1, c.m * ldx)), 0.0f);
    for (auto& v : x) v = dist(rng);
    // y holds NaN where it must be overwritten, so a kernel that reads it without `accumulate` fails.
    y.assign(static_cast<size_t>(std::max<int64_t>(1, c.m * ldy)),
             c.accumulate ? 0.0f : std::numeric_limits<float>::quiet_NaN());
    if (c.accumulate)
      for (auto& v : y) v = dist(rng);
    const size_t wsize = static_cast<size_t>(std::max<int64_t>(1, c.n * ldw));
    w_exact.assign(wsize, 0.0);
    if (c.weight_dtype == DType::f32) {
      w32.resize(wsize);
      for (size_t i = 0; i < wsize; ++i) w_exact[i] = w32[i] = dist(rng);
    } else {
      w16.resize(wsize);
      for (size_t i = 0; i < wsize; ++i) {
        const float v = dist(rng);
        w16[i] = c.weight_dtype == DType::bf16 ? f32_to_bf16(v) : f32_to_f16(v);
        w_exact[i] = c.weight_dtype == DType::bf16 ? bf16_to_f32(w16[i]) : f16_to_f32(w16[i]);
      }
    }
    bias_exact.assign(static_cast<size_t>(c.n), 0.0);
    if (c.bias) {
      bias32.resize(static_cast<size_t>(c.n));
      bias16.resize(static_cast<size_t>(c.n));
      for (int64_t j = 0; j < c.n; ++j) {
        const float v = dist(rng);
        const size_t u = static_cast<size_t>(j);
        bias32[u] = v;
        bias16[u] = c.bias_dtype == DType::bf16 ? f32_to_bf16(v) : f32_to_f16(v);
        bias_exact[u] = c.bias_dtype == DType::f32   ? v
                        : c.bias_dtype == DType::bf16 ? bf16_to_f32(bias16[u])
                                                      : f16_to_f32(bias16[u]);
      }
    }
    xt = strided(x.data(), DType::f32, c.m, c.k, ldx);
    yt = strided(y.data(), DType::f32, c.m, c.n, ldy);
    wt = strided(c.weight_dtype == DType::f32 ? static_cast<void*>(w32.data()) : w16.data(), c.weight_dtype,
                 c.n, c.k, ldw);
    bt = Tensor::contiguous(c.bias_dtype == DType::f32 ? static_cast<void*>(bias32.data()) : bias16.data(),
                            c.bias_dtype, {c.n});
  }

  static Tensor strided(void* data, DType dtype, int64_t rows, int64_t cols, int64_t ld) {
    Tensor t = Tensor::contiguous(data, dtype, {rows, cols});
    t.strides[0] = ld;
    return t;
  }

  GemmParams params(GemmKernel kernel) const {
    GemmParams p;
    p.bias = c.bias ? &bt : nullptr;
    p.accumulate = c.accumulate;
    p.kernel = kernel;
    return p;
  }

  // Runs the kernel and compares every output (and that padding is untouched) with a double oracle.
  void run_and_check(GemmKernel kernel, ThreadPool& pool) {
    const std::vector<float> y_before = y;
    const GemmParams gp = params(kernel);
    check_gemm(xt, wt, yt, gp);
    gemm(xt, wt, yt, gp, pool);
    check(cpu::gemm_kernel_name(kernel), y_before);
  }

  // The same problem as the internal kernels see it, to pin one of them directly.
  detail::GemmProblem raw() const {
    detail::GemmProblem p;
    p.x = xt.ptr<const float>();
    p.ldx = xt.stride(0);
    p.weight = wt.data;
    p.weight_dtype = wt.dtype;
    p.ldw = wt.stride(0);
    p.y = yt.ptr<float>();
    p.ldy = yt.stride(0);
    p.m = c.m;
    p.n = c.n;
    p.k = c.k;
    if (c.bias) {
      p.bias = bt.data;
      p.bias_dtype = bt.dtype;
    }
    p.accumulate = c.accumulate;
    return p;
  }

  void check(const char* kernel_name, const std::vector<float>& y_before) {
    const int64_t ldx = c.k + c.x_pad, ldy = c.n + c.y_pad, ldw = c.k + c.w_pad;
    int bad = 0;
    for (int64_t i = 0; i < c.m; ++i) {
      for (int64_t j = 0; j < c.n; ++j) {
        double sum = 0.0, magnitude = 0.0;
        for (int64_t kk = 0; kk < c.k; ++kk) {
          const double term = static_cast<double>(x[static_cast<size_t>(i * ldx + kk)]) *
                              w_exact[static_cast<size_t>(j * ldw + kk)];
          sum += term;
          magnitude += std::fabs(term);
        }
        const size_t yi = static_cast<size_t>(i * ldy + j);
        const double expected = sum + bias_exact[static_cast<size_t>(j)] +
                                (c.accumulate ? static_cast<double>(y_before[yi]) : 0.0);
        const double tolerance = 1e-5 * (magnitude + 1.0);
        if (!(std::fabs(static_cast<double>(y[yi]) - expected) <= tolerance) && bad++ < 5)
          ADD_FAILURE() << kernel_name << " " << dtype_name(c.weight_dtype) << " m=" << c.m
                        << " n=" << c.n << " k=" << c.k << ": y[" << i << "," << j << "] = " << y[yi]
                        << ", expected " << expected;
      }
      for (int64_t j = c.n; j < ldy; ++j) {  // padding past each row must be left alone
        const size_t yi = static_cast<size_t>(i * ldy + j);
        if (!(std::isnan(y[yi]) && std::isnan(y_before[yi])) && y[yi] != y_before[yi] && bad++ < 5)
          ADD_FAILURE() << "row padding written at y[" << i << "," << j << "]";
      }
    }
    EXPECT_EQ(bad, 0);
  }
};

const GemmKernel kAllKernels[] = {GemmKernel::automatic, GemmKernel::rows, GemmKernel::panels,
                                  GemmKernel::portable, GemmKernel::openblas};

class GemmEveryKernel : public ::testing::TestWithParam<GemmKernel> {};

TEST_P(GemmEveryKernel, MatchesDoubleReferenceForAllDtypesAndOddShapes) {
  ThreadPool pool(2);
  // Odd sizes on purpose: tails in M (row tiles of 8/12), N (tiles of 3..8 and panels of 32), K (16).
  const int64_t shapes[][3] = {{1, 1, 1},   {1, 37, 19},  {3, 33, 1},    {5, 40, 100}, {13, 71, 259},
                               {17, 65, 513}, {30, 100, 300}, {1, 300, 770}, {40, 5, 17},  {2, 1, 64},
                               {9, 47, 31},  {25, 129, 16}, {16, 50, 70}, {32, 29, 1040},
                               {15, 13, 33}, {31, 24, 100}};
  for (DType dtype : {DType::f32, DType::bf16, DType::f16}) {
    for (const auto& s : shapes) {
      Case c{s[0], s[1], s[2], dtype};
      Problem(c).run_and_check(GetParam(), pool);
    }
  }
}

TEST_P(GemmEveryKernel, StridedRowsBiasAndAccumulate) {
  ThreadPool pool(2);
  for (DType dtype : {DType::f32, DType::bf16, DType::f16}) {
    for (DType bias_dtype : {DType::f32, DType::bf16, DType::f16}) {
      for (bool accumulate : {false, true}) {
        Case c{7, 45, 90, dtype, 5, 3, 2, true, bias_dtype, accumulate};
        Problem(c, 7).run_and_check(GetParam(), pool);
        Case tall{29, 66, 300, dtype, 1, 17, 9, true, bias_dtype, accumulate};
        Problem(tall, 8).run_and_check(GetParam(), pool);
      }
    }
    Case acc_only{4, 20, 33, dtype, 0, 0, 0, false, DType::f32, true};
    Problem(acc_only, 9).run_and_check(GetParam(), pool);
  }
}

TEST_P(GemmEveryKernel, MultiThreadedEqualsSingleThreadedBitForBit) {
  // The split is by output column, so a thread count must not change any element's summation order.
  for (int64_t m : {1, 6, 16, 32, 40}) {
    Case c{m, 203, 333, DType::bf16, 3, 1, 0, true, DType::f32, false};
    Problem one(c, 3), many(c, 3);
    ThreadPool single(1), several(3);
    gemm(one.xt, one.wt, one.yt, one.params(GetParam()), single);
    gemm(many.xt, many.wt, many.yt, many.params(GetParam()), several);
    for (size_t i = 0; i < one.y.size(); ++i) {
      if (std::isnan(one.y[i]) && std::isnan(many.y[i])) continue;
      ASSERT_EQ(one.y[i], many.y[i]) << "element " << i << " m=" << m;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Kernels, GemmEveryKernel, ::testing::ValuesIn(kAllKernels),
                         [](const ::testing::TestParamInfo<GemmKernel>& info) {
                           return std::string(cpu::gemm_kernel_name(info.param));
                         });

TEST(Gemm, EmptyDepthGivesBiasAndEmptyOutputIsANoOp) {
  ThreadPool pool(2);
  Case c{3, 5, 0, DType::bf16, 0, 0, 0, true, DType::f32, false};
  Problem(c).run_and_check(GemmKernel::automatic, pool);
  Case acc{3, 5, 0, DType::f32, 0, 2, 0, true, DType::bf16, true};
  Problem(acc).run_and_check(GemmKernel::automatic, pool);
  Case no_rows{0, 5, 8, DType::f32};
  Problem(no_rows).run_and_check(GemmKernel::automatic, pool);
}

TEST(Gemm, PanelsAcrossDepthAndRowBlocks) {
  // K > 1024 and M > 960: several depth blocks (y re-read between them) and several row passes.
  ThreadPool pool(2);
  for (bool accumulate : {false, true}) {
    Case c{970, 40, 1100, DType::bf16, 3, 1, 0, true, DType::f32, accumulate};
    Problem(c, 5).run_and_check(GemmKernel::panels, pool);
  }
}

TEST(Gemm, RowLanesKernelForEveryRowCountAndTail) {
  // The row_lanes kernel pinned directly (gemm() picks it only at M = 15, 16, 31, 32): every M up to
  // 33 (zero-padded lanes; 33 falls back to rows), N tails of its 12-column tiles, K tails of 16 and of
  // its 256-deep widening chunks, and K over a depth block (2048 at R = 16, 1024 at R = 32).
  if (!detail::avx512_available()) GTEST_SKIP() << "no AVX-512 on this CPU or build";
  const int64_t shapes[][2] = {{13, 17}, {25, 300}, {12, 1030}};  // {n, k}
  for (int64_t m = 1; m <= 33; ++m) {
    for (const auto& nk : shapes) {
      const DType dtype = m % 3 == 0 ? DType::f32 : m % 3 == 1 ? DType::bf16 : DType::f16;
      Case c{m, nk[0], nk[1], dtype, 2, 1, 3, m % 2 == 0, DType::bf16, m % 4 == 1};
      Problem problem(c, static_cast<uint32_t>(m));
      const std::vector<float> y_before = problem.y;
      const detail::GemmProblem raw = problem.raw();
      detail::gemm_row_lanes_avx512(raw, 0, raw.n);
      problem.check("row_lanes", y_before);
    }
  }
  for (bool accumulate : {false, true}) {
    Case deep{16, 7, 2100, DType::bf16, 0, 0, 0, true, DType::f32, accumulate};
    Problem problem(deep, 4);
    const std::vector<float> y_before = problem.y;
    detail::gemm_row_lanes_avx512(problem.raw(), 0, deep.n);
    problem.check("row_lanes", y_before);
  }
}

TEST(Gemm, RowLanesSplitAtAnyColumnIsBitIdentical) {
  // A column's sum must not depend on which tile (full or tail) or thread range holds it.
  if (!detail::avx512_available()) GTEST_SKIP() << "no AVX-512 on this CPU or build";
  for (int64_t m : {16, 32}) {
    Case c{m, 40, 1100, DType::bf16, 0, 0, 0, true, DType::f32, false};
    Problem whole(c, 6), split(c, 6);
    detail::gemm_row_lanes_avx512(whole.raw(), 0, c.n);
    const detail::GemmProblem raw = split.raw();
    for (int64_t n0 : {0, 5, 18}) detail::gemm_row_lanes_avx512(raw, n0, n0 == 0 ? 5 : n0 == 5 ? 18 : c.n);
    for (size_t i = 0; i < whole.y.size(); ++i) ASSERT_EQ(whole.y[i], split.y[i]) << "element " << i;
  }
}

TEST(Gemm, LargeValuesKeepF32Precision) {
  // x stays f32: a kernel that rounded x to bf16 (vdpbf16ps) would be off by ~1e-3 relative here.
  ThreadPool pool(1);
  Case c{2, 16, 64, DType::bf16};
  Problem p(c, 11);
  for (auto& v : p.x) v = 1.0f + v * 1e-3f;
  for (GemmKernel kernel : kAllKernels) p.run_and_check(kernel, pool);
}

TEST(Gemm, AutomaticPicksRowsForDecodeAndPanelsForPrefill) {
  const GemmKernel decode = cpu::gemm_kernel_for(1, DType::bf16);
  const GemmKernel prefill = cpu::gemm_kernel_for(512, DType::bf16);
  if (decode == GemmKernel::portable) {
    EXPECT_EQ(prefill, GemmKernel::portable);  // a CPU or build without AVX-512
  } else {
    EXPECT_EQ(decode, GemmKernel::rows);
    EXPECT_EQ(prefill, GemmKernel::panels);
  }
}

TEST(Gemm, ValidationNamesTheBadOperand) {
  std::vector<float> x(6 * 4), y(6 * 3), w(3 * 4);
  std::vector<int32_t> wi(12);
  Tensor xt = Tensor::contiguous(x.data(), DType::f32, {6, 4});
  Tensor yt = Tensor::contiguous(y.data(), DType::f32, {6, 3});
  Tensor wt = Tensor::contiguous(w.data(), DType::f32, {3, 4});
  GemmParams ok;
  EXPECT_NO_THROW(check_gemm(xt, wt, yt, ok));

  auto message = [&](const Tensor& xv, const Tensor& wv, const Tensor& yv, const GemmParams& gp) {
    try {
      check_gemm(xv, wv, yv, gp);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  Tensor w_wrong_k = Tensor::contiguous(w.data(), DType::f32, {4, 3});
  EXPECT_NE(message(xt, w_wrong_k, yt, ok).find("in_features"), std::string::npos);
  Tensor y_wrong = Tensor::contiguous(y.data(), DType::f32, {3, 6});
  EXPECT_NE(message(xt, wt, y_wrong, ok).find("y must be [6, 3]"), std::string::npos);
  Tensor w_int = Tensor::contiguous(wi.data(), DType::i32, {3, 4});
  EXPECT_NE(message(xt, w_int, yt, ok).find("weight"), std::string::npos);
  Tensor x_bf16 = Tensor::contiguous(x.data(), DType::bf16, {6, 4});
  EXPECT_NE(message(x_bf16, wt, yt, ok).find("x must be f32"), std::string::npos);
  Tensor x_cols = xt;
  x_cols.strides[1] = 2;
  EXPECT_NE(message(x_cols, wt, yt, ok).find("column stride"), std::string::npos);
  Tensor y_overlap = yt;
  y_overlap.strides[0] = 2;
  EXPECT_NE(message(xt, wt, y_overlap, ok).find("row stride"), std::string::npos);
  Tensor bias = Tensor::contiguous(w.data(), DType::f32, {4});
  GemmParams bad_bias;
  bad_bias.bias = &bias;
  EXPECT_NE(message(xt, wt, yt, bad_bias).find("bias"), std::string::npos);
  Tensor x3 = Tensor::contiguous(x.data(), DType::f32, {2, 3, 4});
  EXPECT_NE(message(x3, wt, yt, ok).find("x must be f32 [tokens"), std::string::npos);
}

}  // namespace
}  // namespace strata::kernels
