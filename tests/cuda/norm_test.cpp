// CUDA RMSNorm and gated RMSNorm against their CPU twin on the same random inputs: odd group widths
// (below, at and past a block's register cache), groups 1/2/8, both gate orders, out aliasing the input,
// strided rows (y, z and out as column windows of wider buffers), widths up to 8192 and one past the
// register cache (20000-wide groups, the re-read path), tiny and zero rows (eps placement), extreme gates
// and zero tokens. Outputs agree within 1e-5 relative (only the f32 sum order and expf differ); inputs
// that are not aliased stay untouched, bit for bit.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "cuda_test_support.h"
#include "mamba_test_support.h"
#include "strata/core/error.h"
#include "strata/kernels/norm.h"

namespace strata {
namespace {

using testing::Twin;

constexpr double kTolerance = 1e-5;

Exec cpu_exec() { return Exec(testing::host_pool()); }

// One gated problem: z is columns [0, E) and y columns [E + 3, 2E + 3) of one [T, 2E + 5] buffer (as the
// mixer's z and y are windows of wider activations); out is columns [2, E + 2) of a [T, E + 3] buffer,
// or y itself when aliased.
struct GatedCase {
  int64_t T = 1, groups = 1, group_size = 1;
  bool norm_before_gate = false;
  bool alias = false;
  float y_scale = 1.0f, z_scale = 2.0f;
  float eps = 1e-5f;
  bool aligned = false;  // 16-byte aligned windows: many rows then take the warp-per-row kernel
};

std::string describe(const GatedCase& c) {
  return "T=" + std::to_string(c.T) + " G=" + std::to_string(c.groups) + " group=" + std::to_string(c.group_size) +
         (c.norm_before_gate ? " norm-then-gate" : " gate-then-norm") + (c.alias ? " aliased" : "") +
         " y_scale=" + std::to_string(c.y_scale);
}

void run_gated(const GatedCase& c, uint32_t seed) {
  SCOPED_TRACE(describe(c));
  const int64_t E = c.groups * c.group_size;
  std::mt19937 rng(seed);
  const int64_t gap = c.aligned ? 4 : 3, width = 2 * E + gap + (c.aligned ? 4 : 2);
  Twin act = testing::make_twin(DType::f32, {c.T, width}, rng);
  // y's window gets its own scale (tiny rows make eps matter), z's its own (large gates saturate SiLU).
  for (int64_t t = 0; t < c.T; ++t)
    for (int64_t col = 0; col < width; ++col) {
      float& v = act.host.tensor.ptr<float>()[t * width + col];
      v *= col < E ? c.z_scale : c.y_scale;
    }
  testing::reupload(act);
  Twin weight = testing::make_twin(DType::f32, {E}, rng, 0.5f);
  Twin out_buffer = testing::make_output({c.T, E + (c.aligned ? 4 : 3)}, rng);

  kernels::GatedRmsNormParams params;
  params.n_groups = c.groups;
  params.eps = c.eps;
  params.norm_before_gate = c.norm_before_gate;
  auto z = [&](bool gpu) { return testing::columns_of(gpu ? act.gpu() : act.cpu(), 0, E); };
  auto y = [&](bool gpu) { return testing::columns_of(gpu ? act.gpu() : act.cpu(), E + gap, E); };
  auto out = [&](bool gpu) {
    return c.alias ? y(gpu) : testing::columns_of(gpu ? out_buffer.gpu() : out_buffer.cpu(), c.aligned ? 0 : 2, E);
  };

  kernels::check_gated_rms_norm(params, y(true), z(true), weight.gpu(), out(true));
  kernels::gated_rms_norm(params, y(false), z(false), weight.cpu(), out(false), cpu_exec());
  kernels::gated_rms_norm(params, y(true), z(true), weight.gpu(), out(true), testing::gpu_exec());
  strata::cuda::check_last_error("gated_rms_norm test");
  if (c.alias) {
    testing::expect_close(act, kTolerance, "y (aliased out)");
    testing::expect_identical(out_buffer, "untouched out buffer");
  } else {
    testing::expect_close(out_buffer, kTolerance, "out");
    testing::expect_identical(act, "inputs");
  }
}

TEST(CudaGatedRmsNorm, OddGroupWidthsGroupsAndBothOrdersMatchCpu) {
  STRATA_REQUIRE_GPU();
  uint32_t seed = 1;
  // 1, 31, 33: below a warp and around it; 129: a partial warp past 4 per thread; 1000/1025: partial
  // blocks; 4096/8192: the widest groups in the models (E = 8192 at G = 1 and G = 2, G = 8 × 1024).
  for (int64_t groups : {1, 2, 8})
    for (int64_t group_size : {1, 3, 31, 33, 129, 1000, 1024, 1025, 4096})
      for (bool before : {false, true}) {
        if (groups * group_size > 8192) continue;
        GatedCase c;
        c.T = group_size >= 1000 ? 5 : 17;
        c.groups = groups;
        c.group_size = group_size;
        c.norm_before_gate = before;
        run_gated(c, seed++);
      }
  for (bool before : {false, true}) {
    GatedCase c;
    c.T = 3;
    c.group_size = 8192;
    c.norm_before_gate = before;
    run_gated(c, seed++);
  }
}

TEST(CudaGatedRmsNorm, OutMayAliasY) {
  STRATA_REQUIRE_GPU();
  uint32_t seed = 100;
  for (int64_t groups : {1, 2, 8})
    for (int64_t group_size : {7, 96, 1023})
      for (bool before : {false, true}) {
        GatedCase c;
        c.T = 9;
        c.groups = groups;
        c.group_size = group_size;
        c.norm_before_gate = before;
        c.alias = true;
        run_gated(c, seed++);
      }
}

TEST(CudaGatedRmsNorm, GroupsWiderThanTheRegisterCacheReReadTheirTail) {
  STRATA_REQUIRE_GPU();
  // 20000 > 16 cached values × 1024 threads: the tail is re-read (and, aliased, written after its read).
  uint32_t seed = 200;
  for (bool alias : {false, true})
    for (bool before : {false, true}) {
      GatedCase c;
      c.T = 2;
      c.groups = 2;
      c.group_size = 20000;
      c.norm_before_gate = before;
      c.alias = alias;
      run_gated(c, seed++);
    }
}

TEST(CudaGatedRmsNorm, TinyRowsAndExtremeGates) {
  STRATA_REQUIRE_GPU();
  uint32_t seed = 300;
  for (bool before : {false, true}) {
    // Σv²/n ≈ 1e-8 against eps 1e-5: eps dominates the rstd, so a misplaced eps shows at once.
    GatedCase tiny;
    tiny.T = 6;
    tiny.groups = 2;
    tiny.group_size = 100;
    tiny.norm_before_gate = before;
    tiny.y_scale = 1e-4f;
    run_gated(tiny, seed++);
    tiny.eps = 1e-2f;
    run_gated(tiny, seed++);
    // |z| up to ~300: SiLU saturates to z and to -0 (exp overflow must not give NaN).
    GatedCase gates;
    gates.T = 4;
    gates.groups = 8;
    gates.group_size = 64;
    gates.norm_before_gate = before;
    gates.z_scale = 100.0f;
    run_gated(gates, seed++);
  }
}

TEST(CudaGatedRmsNorm, ZeroRowsStayFinite) {
  STRATA_REQUIRE_GPU();
  for (bool before : {false, true}) {
    GatedCase c;
    c.T = 3;
    c.groups = 2;
    c.group_size = 50;
    c.norm_before_gate = before;
    c.y_scale = 0.0f;
    run_gated(c, 400 + static_cast<uint32_t>(before));
  }
}

TEST(CudaGatedRmsNorm, ZeroTokensWriteNothing) {
  STRATA_REQUIRE_GPU();
  for (bool before : {false, true}) {
    GatedCase c;
    c.T = 0;
    c.groups = 8;
    c.group_size = 16;
    c.norm_before_gate = before;
    run_gated(c, 500);
  }
}

// Plain RMSNorm: x is columns [1, D + 1) of a [T, D + 4] buffer, out columns [3, D + 3) of [T, D + 5],
// or x itself.
// aligned: x at column 0 of [T, D + 4] and out at column 0 of [T, D + 8] instead.
void run_plain(int64_t T, int64_t D, bool alias, float x_scale, uint32_t seed, bool aligned = false) {
  SCOPED_TRACE("T=" + std::to_string(T) + " D=" + std::to_string(D) + (alias ? " aliased" : "") +
               (aligned ? " aligned" : ""));
  std::mt19937 rng(seed);
  Twin act = testing::make_twin(DType::f32, {T, D + 4}, rng, x_scale);
  Twin weight = testing::make_twin(DType::f32, {D}, rng, 0.5f);
  Twin out_buffer = testing::make_output({T, D + (aligned ? 8 : 5)}, rng);
  auto x = [&](bool gpu) { return testing::columns_of(gpu ? act.gpu() : act.cpu(), aligned ? 0 : 1, D); };
  auto out = [&](bool gpu) {
    return alias ? x(gpu) : testing::columns_of(gpu ? out_buffer.gpu() : out_buffer.cpu(), aligned ? 0 : 3, D);
  };
  const kernels::RmsNormParams params{.eps = 1e-6f};
  kernels::check_rms_norm(params, x(true), weight.gpu(), out(true));
  kernels::rms_norm(params, x(false), weight.cpu(), out(false), cpu_exec());
  kernels::rms_norm(params, x(true), weight.gpu(), out(true), testing::gpu_exec());
  strata::cuda::check_last_error("rms_norm test");
  if (alias) {
    testing::expect_close(act, kTolerance, "x (aliased out)");
    testing::expect_identical(out_buffer, "untouched out buffer");
  } else {
    testing::expect_close(out_buffer, kTolerance, "out");
    testing::expect_identical(act, "input");
  }
}

TEST(CudaRmsNorm, OddWidthsStridedAndAliasedMatchCpu) {
  STRATA_REQUIRE_GPU();
  uint32_t seed = 600;
  for (int64_t D : {1, 5, 32, 100, 2047, 2560, 4096, 8192})
    for (bool alias : {false, true}) run_plain(D >= 2047 ? 7 : 33, D, alias, 1.0f, seed++);
  run_plain(3, 20001, false, 1.0f, seed++);  // past the register cache
  run_plain(3, 20001, true, 1.0f, seed++);
  run_plain(300, 64, false, 30.0f, seed++);   // many rows, large values
  run_plain(5, 300, false, 1e-4f, seed++);    // eps (1e-6) comparable to the mean square
  run_plain(0, 64, false, 1.0f, seed++);      // zero tokens
}

// Aligned rows take the float4 kernel: prefill-sized batches, widths within and past its register cache
// (2560, 5120 = the 2.7b block and gated norms; 40000 re-reads its tail), groups, aliasing.
TEST(CudaRmsNorm, ManyAlignedRowsMatchCpu) {
  STRATA_REQUIRE_GPU();
  uint32_t seed = 900;
  for (int64_t D : {64, 2560, 5120})
    for (bool alias : {false, true}) run_plain(1100, D, alias, 1.0f, seed++, true);
  run_plain(3, 40000, false, 1.0f, seed++, true);
  run_plain(1, 2560, true, 1.0f, seed++, true);
}

TEST(CudaGatedRmsNorm, ManyAlignedRowsMatchCpu) {
  STRATA_REQUIRE_GPU();
  uint32_t seed = 950;
  for (int64_t groups : {1, 8})
    for (int64_t group_size : {128, 640, 5120})
      for (bool before : {false, true})
        for (bool alias : {false, true}) {
          if (groups * group_size > 8192) continue;
          GatedCase c;
          c.T = groups == 1 ? 1100 : 200;
          c.groups = groups;
          c.group_size = group_size;
          c.norm_before_gate = before;
          c.alias = alias;
          c.aligned = true;
          run_gated(c, seed++);
        }
}

TEST(CudaNormChecks, AcceptCudaOperandsAndRefuseMixedDevices) {
  STRATA_REQUIRE_GPU();
  std::mt19937 rng(7);
  Twin x = testing::make_twin(DType::f32, {4, 16}, rng);
  Twin w = testing::make_twin(DType::f32, {16}, rng);
  Twin out = testing::make_output({4, 16}, rng);
  EXPECT_NO_THROW(kernels::check_rms_norm({}, x.gpu(), w.gpu(), out.gpu()));
  EXPECT_NO_THROW(kernels::check_gated_rms_norm({.n_groups = 4}, x.gpu(), x.gpu(), w.gpu(), out.gpu()));
  try {
    kernels::check_rms_norm({}, x.gpu(), w.cpu(), out.gpu());
    ADD_FAILURE() << "a CPU weight with CUDA rows was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("weight"), std::string::npos) << e.what();
  }
  try {
    kernels::check_gated_rms_norm({.n_groups = 2}, x.gpu(), x.cpu(), w.gpu(), out.gpu());
    ADD_FAILURE() << "a CPU z with CUDA y was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("z"), std::string::npos) << e.what();
  }
  // The dispatch refuses a CUDA call given a host tensor, before any kernel runs.
  EXPECT_THROW(kernels::rms_norm({}, x.gpu(), w.cpu(), out.gpu(), testing::gpu_exec()), Error);
}

}  // namespace
}  // namespace strata
