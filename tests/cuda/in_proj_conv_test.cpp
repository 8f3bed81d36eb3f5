// The fused decode front (kernels/in_proj_conv.h) on CUDA — [RMSNorm →] in_proj → conv in one skinny
// kernel — against the same computation unfused on the GPU (kernels::gemm / rms_norm_gemm, then
// causal_conv1d_decode): the GEMM sums run in the same kernel and order, so conv outputs, the conv pool
// and in_proj's other columns must agree bit for bit; and against the CPU within 2e-5. One and two
// sequences, a padding slot (-1), fresh and carried windows, K = 4 and 2, with and without the norm and
// the conv bias, bf16 and f32 weights, fused norms off (the default) and on; a bf16 conv pool and three
// sequences must take the unfused path.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "cuda_test_support.h"
#include "mamba_test_support.h"
#include "strata/kernels/cuda/gemm.h"
#include "strata/kernels/in_proj_conv.h"
#include "strata/kernels/norm_gemm.h"

namespace strata {
namespace {

using testing::DeviceBatch;
using testing::Twin;

struct Case {
  int64_t D = 256;         // in_proj's K (hidden)
  int64_t E = 128, C = 160;  // z width and conv channels (xBC), then H dt columns
  int64_t H = 8;
  int64_t K = 4;
  DType weight = DType::bf16;
  DType pool = DType::f32;
  bool norm = true, conv_bias = true;
  std::vector<int32_t> slots = {2};
  std::vector<uint8_t> initial = {1};
};

std::string describe(const Case& c) {
  std::ostringstream s;
  s << "D=" << c.D << " C=" << c.C << " K=" << c.K << " weight " << dtype_name(c.weight) << " pool "
    << dtype_name(c.pool) << (c.norm ? " norm" : "") << (c.conv_bias ? " bias" : "") << " slots";
  for (size_t i = 0; i < c.slots.size(); ++i) s << ' ' << c.slots[i] << (c.initial[i] ? "" : "(fresh)");
  return s.str();
}

struct Run {
  Twin y, conv_out, pool;
};

// One decode front on `gpu` (fused = through in_proj_conv_decode; else gemm + conv separately).
void run_front(const Case& c, bool gpu, bool fused, const Twin& x, const Twin& norm_weight, const Twin& weight,
               const Twin& conv_weight, const Twin& conv_bias, DeviceBatch& batch, Run& r) {
  const Exec exec = gpu ? testing::gpu_exec() : Exec(testing::host_pool());
  const int64_t m = static_cast<int64_t>(c.slots.size());
  Tensor y = gpu ? r.y.gpu() : r.y.cpu();
  Twin normed = [&] {
    std::mt19937 rng(1);
    return testing::make_output({m, c.D}, rng);
  }();
  const kernels::InProjNorm norm{.weight = gpu ? &norm_weight.gpu() : &norm_weight.cpu(), .eps = 1e-5f,
                                 .normed = gpu ? normed.gpu() : normed.cpu()};
  const kernels::CausalConv1dParams params{.conv_dim = c.C, .kernel_width = c.K, .silu = true};
  const kernels::VarlenBatch view = gpu ? batch.device_view() : batch.host_view();
  const Tensor bias = c.conv_bias ? (gpu ? conv_bias.gpu() : conv_bias.cpu()) : Tensor{};
  const Tensor& w = gpu ? weight.gpu() : weight.cpu();
  const Tensor& cw = gpu ? conv_weight.gpu() : conv_weight.cpu();
  const Tensor pool = gpu ? r.pool.gpu() : r.pool.cpu();
  const Tensor out = gpu ? r.conv_out.gpu() : r.conv_out.cpu();
  const Tensor& xs = gpu ? x.gpu() : x.cpu();
  if (fused) {
    kernels::in_proj_conv_decode(xs, c.norm ? &norm : nullptr, w, y, {}, params, c.E, cw, bias, view, pool, out, exec);
    return;
  }
  if (c.norm)
    kernels::rms_norm_gemm({.eps = 1e-5f}, xs, *norm.weight, norm.normed, w, y, {}, exec);
  else
    kernels::gemm(xs, w, y, {}, exec);
  kernels::causal_conv1d_decode(params, testing::columns_of(y, c.E, c.C), cw, bias, view, pool, Tensor{}, out, exec);
}

// Returns whether the GPU fused the case.
bool check(const Case& c, uint32_t seed) {
  SCOPED_TRACE(describe(c));
  std::mt19937 rng(seed);
  const int64_t m = static_cast<int64_t>(c.slots.size()), N = c.E + c.C + c.H;
  Twin x = testing::make_twin(DType::f32, {m, c.D}, rng);
  Twin norm_weight = testing::make_twin(DType::f32, {c.D}, rng, 0.5f);
  Twin weight = testing::make_twin(c.weight, {N, c.D}, rng, 0.1f);
  Twin conv_weight = testing::make_twin(DType::f32, {c.C, c.K}, rng, 0.5f);
  Twin conv_bias = testing::make_twin(DType::f32, {c.C}, rng, 0.3f);
  const uint32_t pool_seed = seed * 7 + 3;  // every run starts from the same pool contents
  DeviceBatch batch;
  for (size_t i = 0; i < c.slots.size(); ++i) batch.add(1, c.slots[i], c.initial[i] != 0);
  batch.upload();

  auto fresh_run = [&] {
    std::mt19937 pool_rng(pool_seed);
    return Run{testing::make_output({m, N}, rng), testing::make_output({m, c.C}, rng),
               testing::make_twin(c.pool, {4, c.K - 1, c.C}, pool_rng)};
  };
  Run cpu = fresh_run(), fused = fresh_run(), apart = fresh_run();
  run_front(c, false, true, x, norm_weight, weight, conv_weight, conv_bias, batch, cpu);
  run_front(c, true, true, x, norm_weight, weight, conv_weight, conv_bias, batch, fused);
  run_front(c, true, false, x, norm_weight, weight, conv_weight, conv_bias, batch, apart);
  testing::gpu()->synchronize();

  // GPU fused against GPU apart: bit for bit (in_proj's columns outside xBC, the conv outputs, the pool).
  const testing::HostTensor fy = fused.y.gpu_result(), ay = apart.y.gpu_result();
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < N; ++j) {
      if (j >= c.E && j < c.E + c.C) continue;
      if (fy.tensor.ptr<float>()[i * N + j] != ay.tensor.ptr<float>()[i * N + j]) {
        ADD_FAILURE() << describe(c) << ": y[" << i << "][" << j << "] " << fy.tensor.ptr<float>()[i * N + j]
                      << " fused, " << ay.tensor.ptr<float>()[i * N + j] << " apart";
        return false;
      }
    }
  const testing::HostTensor fo = fused.conv_out.gpu_result(), ao = apart.conv_out.gpu_result();
  for (int64_t i = 0; i < m * c.C; ++i)
    if (fo.tensor.ptr<float>()[i] != ao.tensor.ptr<float>()[i]) {
      ADD_FAILURE() << describe(c) << ": conv_out element " << i << " " << fo.tensor.ptr<float>()[i] << " fused, "
                    << ao.tensor.ptr<float>()[i] << " apart";
      return false;
    }
  const testing::HostTensor fp = fused.pool.gpu_result(), ap = apart.pool.gpu_result();
  EXPECT_EQ(0, std::memcmp(fp.tensor.data, ap.tensor.data, testing::extent_bytes(fp.tensor)))
      << describe(c) << ": the conv pools differ";
  // And the CPU's, within the GEMM's summation-order difference.
  const std::vector<float> got = testing::as_floats(fo.tensor), want = testing::as_floats(cpu.conv_out.cpu());
  EXPECT_LE(testing::relative_max_error(got.data(), want.data(), got.size()), 2e-5) << describe(c) << ": conv_out against the CPU";
  const std::vector<float> got_pool = testing::as_floats(fp.tensor), want_pool = testing::as_floats(cpu.pool.cpu());
  EXPECT_LE(testing::relative_max_error(got_pool.data(), want_pool.data(), got_pool.size()), 2e-5) << describe(c) << ": pool against the CPU";

  // Did it fuse? Ask the fused kernel alone on a copy of the state.
  Run probe = fresh_run();
  const kernels::CausalConv1dParams params{.conv_dim = c.C, .kernel_width = c.K, .silu = true};
  const kernels::VarlenBatch view = batch.device_view();
  const Tensor bias = c.conv_bias ? conv_bias.gpu() : Tensor{};
  Tensor py = probe.y.gpu();
  const kernels::cuda::FusedConv spec{.conv = params, .col0 = c.E, .weight = &conv_weight.gpu(), .bias = &bias,
                                      .batch = &view, .state = &probe.pool.gpu(), .out = &probe.conv_out.gpu()};
  // With fused norms off the front norms apart and fuses GEMM + conv: probe that on x itself.
  const bool fold = c.norm && kernels::cuda::fused_norm_enabled();
  const bool took = kernels::cuda::gemm_front(x.gpu(), fold ? &norm_weight.gpu() : nullptr, 1e-5f, weight.gpu(), py,
                                              {}, spec, testing::gpu_exec());
  testing::gpu()->synchronize();
  return took;
}

// Fused norms on for a test's duration (off by default: cuda/gemm.h).
struct FusedNorms {
  bool saved = kernels::cuda::fused_norm_enabled();
  explicit FusedNorms(bool on) { kernels::cuda::set_fused_norm(on); }
  ~FusedNorms() { kernels::cuda::set_fused_norm(saved); }
};

TEST(CudaInProjConv, FusedFrontEqualsTheSeparateKernels) {
  STRATA_REQUIRE_GPU();
  uint32_t seed = 1;
  for (bool fold_norm : {false, true})
    for (DType dtype : {DType::bf16, DType::f32})
      for (bool norm : {true, false})
        for (bool bias : {true, false}) {
          const FusedNorms setting(fold_norm);
          Case c;
          c.weight = dtype;
          c.norm = norm;
          c.conv_bias = bias;
          EXPECT_TRUE(check(c, seed++));
          c.slots = {3, -1};  // a second sequence, and a padding row
          c.initial = {0, 1};
          EXPECT_TRUE(check(c, seed++));
          c.slots = {0, 1};
          c.initial = {1, 1};
          c.K = 2;
          EXPECT_TRUE(check(c, seed++));
        }
}

// mamba2-2.7b's in_proj front: D 2560, xBC 5376 channels after a 5120-wide z, 80 dt columns.
TEST(CudaInProjConv, Mamba2Shape) {
  STRATA_REQUIRE_GPU();
  Case c;
  c.D = 2560, c.E = 5120, c.C = 5376, c.H = 80;
  EXPECT_TRUE(check(c, 90));
}

TEST(CudaInProjConv, OtherCasesRunApart) {
  STRATA_REQUIRE_GPU();
  Case bf16_pool;
  bf16_pool.pool = DType::bf16;
  EXPECT_FALSE(check(bf16_pool, 95));
  {
    const FusedNorms on(true);
    EXPECT_FALSE(check(bf16_pool, 97));
  }
  Case three;
  three.slots = {0, 1, 2};
  three.initial = {1, 0, 1};
  EXPECT_FALSE(check(three, 96));
}

}  // namespace
}  // namespace strata
