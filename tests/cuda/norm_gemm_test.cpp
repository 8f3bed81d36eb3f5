// The fused norm + GEMM (kernels/norm_gemm.h) on CUDA against the CPU's norm then GEMM on the same inputs:
// plain RMSNorm (the block norm before in_proj) and the gated RMSNorm in both orders (before out_proj),
// one group and one or two tokens (the fused skinny kernel); 8 groups, three tokens and misaligned rows
// (the unfused path); bf16 and f32 weights, bias and accumulate. cuda::gemm_normed is called directly too,
// to prove which cases really fuse. The fused path takes rstd out of the sum (rstd · Σ v·w·W instead of
// Σ (v·rstd·w)·W), so results agree within 2e-5 relative, not bit for bit.
#include <gtest/gtest.h>

#include <random>
#include <string>

#include "cuda_test_support.h"
#include "mamba_test_support.h"
#include "strata/kernels/cuda/gemm.h"
#include "strata/kernels/norm_gemm.h"

namespace strata {
namespace {

using testing::Twin;

constexpr double kTolerance = 2e-5;

struct Case {
  int64_t m = 1, k = 256, n = 96;
  bool gated = false, gate_after = false;
  int64_t groups = 1;
  DType weight = DType::bf16;
  bool bias = false, accumulate = false;
  int64_t x_col = 0;  // x (and z) start this many columns into their rows: 1 misaligns them
};

std::string describe(const Case& c) {
  return "M=" + std::to_string(c.m) + " K=" + std::to_string(c.k) + " N=" + std::to_string(c.n) +
         (c.gated ? (c.gate_after ? " gated norm-then-gate" : " gated gate-then-norm") : " rmsnorm") +
         " G=" + std::to_string(c.groups) + " weight " + std::string(dtype_name(c.weight)) +
         (c.bias ? " bias" : "") + (c.accumulate ? " accumulate" : "") + " x_col=" + std::to_string(c.x_col);
}

Case make(int64_t m, int64_t k, int64_t n, bool gated, int64_t groups = 1, bool gate_after = false,
          DType weight = DType::bf16, bool bias_and_accumulate = false, int64_t x_col = 0) {
  Case c;
  c.m = m, c.k = k, c.n = n, c.gated = gated, c.groups = groups, c.gate_after = gate_after, c.weight = weight;
  c.bias = c.accumulate = bias_and_accumulate;
  c.x_col = x_col;
  return c;
}

// Fused norms on for a test's duration (they are off by default: cuda/gemm.h).
struct FusedNorms {
  bool saved = kernels::cuda::fused_norm_enabled();
  FusedNorms() { kernels::cuda::set_fused_norm(true); }
  ~FusedNorms() { kernels::cuda::set_fused_norm(saved); }
};

// Runs the case on both devices; returns whether the GPU fused it.
bool run(const Case& c, uint32_t seed) {
  SCOPED_TRACE(describe(c));
  std::mt19937 rng(seed);
  const int64_t width = c.k + 8;  // rows 16-byte aligned at column 0
  Twin x = testing::make_twin(DType::f32, {c.m, width}, rng);
  Twin z = testing::make_twin(DType::f32, {c.m, width}, rng, 2.0f);
  Twin norm_weight = testing::make_twin(DType::f32, {c.k}, rng, 0.5f);
  Twin weight = testing::make_twin(c.weight, {c.n, c.k}, rng, 0.05f);
  Twin bias = testing::make_twin(DType::f32, {c.n}, rng);
  Twin y = testing::make_twin(DType::f32, {c.m, c.n}, rng);  // the old y, for accumulate
  Twin normed_cpu = testing::make_output({c.m, c.k}, rng);
  auto xs = [&](bool gpu) { return testing::columns_of(gpu ? x.gpu() : x.cpu(), c.x_col, c.k); };
  auto zs = [&](bool gpu) { return testing::columns_of(gpu ? z.gpu() : z.cpu(), c.x_col, c.k); };

  bool fused = false;
  for (bool gpu : {false, true}) {
    kernels::GemmParams params;
    params.accumulate = c.accumulate;
    if (c.bias) params.bias = gpu ? &bias.gpu() : &bias.cpu();
    Tensor out = gpu ? y.gpu() : y.cpu();
    const Exec exec = gpu ? testing::gpu_exec() : Exec(testing::host_pool());
    const Tensor& nw = gpu ? norm_weight.gpu() : norm_weight.cpu();
    const Tensor& w = gpu ? weight.gpu() : weight.cpu();
    const Tensor normed = gpu ? normed_cpu.gpu() : normed_cpu.cpu();
    if (gpu) {  // the fused path alone first, into a scratch y, to learn whether it takes the case
      Twin probe = testing::make_twin(DType::f32, {c.m, c.n}, rng);
      Tensor probe_out = probe.gpu();
      const Tensor gate = zs(true);
      fused = kernels::cuda::gemm_normed(xs(true), c.gated ? &gate : nullptr, c.gate_after, c.groups, 1e-5f, nw, w,
                                         probe_out, kernels::GemmParams{}, exec);
    }
    if (c.gated) {
      const kernels::GatedRmsNormParams norm{.n_groups = c.groups, .eps = 1e-5f, .norm_before_gate = c.gate_after};
      kernels::gated_rms_norm_gemm(norm, xs(gpu), zs(gpu), nw, normed, w, out, params, exec);
    } else {
      kernels::rms_norm_gemm({.eps = 1e-5f}, xs(gpu), nw, normed, w, out, params, exec);
    }
  }
  testing::gpu()->synchronize();
  testing::expect_close(y, kTolerance, "y");
  testing::expect_identical(x, "x is not written");
  return fused;
}

TEST(CudaNormGemm, FusesDecodeRowsAndMatchesNormThenGemm) {
  STRATA_REQUIRE_GPU();
  const FusedNorms on;
  uint32_t seed = 1;
  for (DType dtype : {DType::bf16, DType::f32})
    for (int64_t m : {1, 2}) {
      EXPECT_TRUE(run(make(m, 256, 96, false, 1, false, dtype), seed++)) << "plain rmsnorm should fuse";
      for (bool after : {false, true}) {
        EXPECT_TRUE(run(make(m, 256, 96, true, 1, after, dtype, true), seed++)) << "gated should fuse";
        EXPECT_FALSE(run(make(m, 256, 96, true, 8, after, dtype, true), seed++)) << "8 groups run apart";
      }
    }
}

// The real shapes: mamba2-2.7b's in_proj (block norm over 2560) and out_proj (gated norm over 5120,
// G = 1), Nemotron-H-8B's in_proj (4096) and out_proj (G = 8 over 8192: apart).
TEST(CudaNormGemm, ModelShapes) {
  STRATA_REQUIRE_GPU();
  const FusedNorms on;
  EXPECT_TRUE(run(make(1, 2560, 1000, false), 50));
  EXPECT_TRUE(run(make(1, 5120, 640, true, 1, false, DType::bf16, true), 51));
  EXPECT_FALSE(run(make(1, 8192, 256, true, 8, false, DType::bf16, true), 52));
  EXPECT_TRUE(run(make(2, 4096, 300, false), 53));  // Nemotron-H-8B's in_proj, two tokens
  EXPECT_TRUE(run(make(2, 16384, 256, false), 54));  // no shared-memory limit on K
}

// What the fused kernel does not take still gives the right answer, through the norm kernel and GEMM.
TEST(CudaNormGemm, OtherShapesRunUnfused) {
  STRATA_REQUIRE_GPU();
  const FusedNorms on;  // restores the setting on the way out
  kernels::cuda::set_fused_norm(false);  // the default: every case apart, and still right
  EXPECT_FALSE(run(make(1, 2560, 1000, false), 59));
  EXPECT_FALSE(run(make(1, 5120, 640, true, 1, false, DType::bf16, true), 58));
  kernels::cuda::set_fused_norm(true);
  EXPECT_FALSE(run(make(3, 256, 96, false), 60));                               // three tokens: cuBLAS's rows
  EXPECT_FALSE(run(make(1, 256, 96, false, 1, false, DType::bf16, false, 1), 61));  // misaligned x
  EXPECT_FALSE(run(make(1, 260, 96, true), 62));                                // K not a multiple of 8
  EXPECT_FALSE(run(make(1, 256, 96, true, 16), 63));                            // 16 groups
}

}  // namespace
}  // namespace strata
