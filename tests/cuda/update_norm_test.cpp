// The selective state update with the gated RMSNorm fused in (kernels/update_norm.h, cuda/state_update.h:
// each sequence's last block norms its rows) against the CPU's update then gated_rms_norm on the same
// inputs: one and several sequences, padding (-1) and fresh slots, multi-token rows (every row of a
// sequence is normed), 1, 2 and 8 norm groups, the gate before and after the norm, f32 and bf16 pools, the
// mamba2-2.7b and Nemotron-H-8B shapes, 64 sequences, and repeated calls (the block counters are left at 0
// for the next one). cuda::selective_state_update_normed is called directly, so the test proves it fused.
// The norm's f32 sum runs in another order than the CPU's: 2e-5 relative.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "cuda_test_support.h"
#include "mamba_test_support.h"
#include "strata/kernels/cuda/state_update.h"
#include "strata/kernels/update_norm.h"

namespace strata {
namespace {

using testing::DeviceBatch;
using testing::Twin;

constexpr double kTolerance = 2e-5;

struct Shape {
  int64_t H, P, N, G;  // SSM heads, head dim, state size, B/C groups
  int64_t norm_groups;
  bool norm_before_gate;
  DType pool;
};

std::string describe(const Shape& s) {
  return "H=" + std::to_string(s.H) + " P=" + std::to_string(s.P) + " N=" + std::to_string(s.N) + " G=" +
         std::to_string(s.G) + " norm groups " + std::to_string(s.norm_groups) +
         (s.norm_before_gate ? " gate after" : " gate before") + (s.pool == DType::bf16 ? " bf16 pool" : " f32 pool");
}

// Runs `calls` fused GPU calls and as many CPU update + norm pairs on the same inputs and compares the
// normed rows and the pool after each.
void check(const Shape& s, DeviceBatch& b, int64_t num_slots, uint32_t seed, int calls = 1) {
  SCOPED_TRACE(describe(s));
  std::mt19937 rng(seed);
  const int64_t T = b.num_tokens(), E = s.H * s.P, GN = s.G * s.N;
  // One activation row per token: [x | B | C | dt | z], as in_proj and the conv leave them.
  const int64_t width = E + 2 * GN + s.H + E;
  Twin act = testing::make_twin(DType::f32, {T, width}, rng);
  Twin A = testing::make_twin(DType::f32, {s.H}, rng);
  for (int64_t h = 0; h < s.H; ++h) A.host.tensor.ptr<float>()[h] = -std::exp(-1.0f + 0.1f * static_cast<float>(h % 20));
  testing::reupload(A);
  Twin D = testing::make_twin(DType::f32, {s.H}, rng);
  Twin dt_bias = testing::make_twin(DType::f32, {s.H}, rng, 0.5f);
  Twin norm_weight = testing::make_twin(DType::f32, {E}, rng, 0.5f);
  Twin state = testing::make_twin(s.pool, {num_slots, s.H, s.P, s.N}, rng, 0.3f);
  Twin y = testing::make_output({T, E}, rng);
  b.upload();
  const kernels::SelectiveStateUpdateParams params{.n_heads = s.H, .head_dim = s.P, .state_size = s.N,
                                                   .n_groups = s.G};
  const kernels::GatedRmsNormParams norm{.n_groups = s.norm_groups, .eps = 1e-5f,
                                         .norm_before_gate = s.norm_before_gate};
  auto inputs = [&](bool gpu) {
    const Tensor& a = gpu ? act.gpu() : act.cpu();
    return kernels::SelectiveStateUpdateInputs{testing::columns_of(a, 0, E), testing::columns_of(a, E + 2 * GN, s.H),
                                               testing::columns_of(a, E, GN), testing::columns_of(a, E + GN, GN)};
  };
  auto weights = [&](bool gpu) {
    return kernels::SelectiveStateUpdateWeights{gpu ? A.gpu() : A.cpu(), gpu ? D.gpu() : D.cpu(),
                                                gpu ? dt_bias.gpu() : dt_bias.cpu()};
  };
  const Tensor z_cpu = testing::columns_of(act.cpu(), E + 2 * GN + s.H, E);
  const Tensor z_gpu = testing::columns_of(act.gpu(), E + 2 * GN + s.H, E);
  for (int call = 0; call < calls; ++call) {
    SCOPED_TRACE("call " + std::to_string(call));
    // CPU: the two ops apart (the neutral entry runs them so on the CPU), y normed in place.
    kernels::selective_state_update_normed(params, inputs(false), weights(false), b.host_view(), state.cpu(), y.cpu(),
                                           norm, z_cpu, norm_weight.cpu(), y.cpu(), Exec(testing::host_pool()));
    ASSERT_TRUE(kernels::cuda::selective_state_update_normed(params, inputs(true), weights(true), b.device_view(),
                                                             state.gpu(), y.gpu(), norm, z_gpu, norm_weight.gpu(),
                                                             y.gpu(), testing::gpu_exec()))
        << "the fused kernel should take this case";
    testing::gpu()->synchronize();
    testing::expect_close(y, kTolerance, "normed y");
    if (s.pool == DType::bf16)
      testing::expect_bf16_states_match(state, "ssm_state");
    else
      testing::expect_close(state, 1e-5, "ssm_state");
  }
}

TEST(CudaUpdateNorm, DecodeBatchesGroupsAndGateOrdersMatchTheCpu) {
  STRATA_REQUIRE_GPU();
  uint32_t seed = 1;
  for (DType pool : {DType::f32, DType::bf16})
    for (int64_t norm_groups : {1, 2})
      for (bool after : {false, true}) {
        DeviceBatch b;
        b.add(1, 3, true);
        b.add(1, -1, true);  // padding: y zero, so its normed row is zero
        b.add(1, 0, false);  // fresh
        check({6, 8, 40, 3, norm_groups, after, pool}, b, 5, seed++);
      }
}

TEST(CudaUpdateNorm, EveryRowOfAMultiTokenSequenceIsNormed) {
  STRATA_REQUIRE_GPU();
  DeviceBatch b;
  b.add(3, 1, true);
  b.add(2, 0, false);
  check({4, 20, 16, 1, 1, false, DType::f32}, b, 2, 10);  // P = 20: a block's last warp idle
}

TEST(CudaUpdateNorm, RepeatedCallsLeaveTheCountersReady) {
  STRATA_REQUIRE_GPU();
  DeviceBatch b;
  b.add(1, 0, true);
  b.add(1, 1, true);
  check({8, 16, 32, 2, 2, false, DType::f32}, b, 2, 20, 4);
}

// mamba2-2.7b (H 80, P 64, N 128, one group), batch 1 and 2; Nemotron-H-8B (H 128, G 8, norm in 8 groups).
TEST(CudaUpdateNorm, ModelShapes) {
  STRATA_REQUIRE_GPU();
  DeviceBatch one;
  one.add(1, 0, true);
  check({80, 64, 128, 1, 1, false, DType::f32}, one, 1, 30, 2);
  DeviceBatch two;
  two.add(1, 1, true);
  two.add(1, 0, true);
  check({80, 64, 128, 1, 1, false, DType::f32}, two, 2, 31);
  DeviceBatch eight_b;
  eight_b.add(1, 0, true);
  check({128, 64, 128, 8, 8, false, DType::f32}, eight_b, 1, 32);
}

TEST(CudaUpdateNorm, SixtyFourSequences) {
  STRATA_REQUIRE_GPU();
  DeviceBatch b;
  for (int i = 0; i < 64; ++i) b.add(1, 63 - i, i % 5 != 0);
  check({16, 32, 64, 2, 1, false, DType::f32}, b, 64, 40, 2);
}

}  // namespace
}  // namespace strata
