// CUDA RoPE against its CPU twin: NeoX and GPT-J pairings, full and partial rotary_dim (down to 2),
// head_dim 6 to 512 (the largest table, more entries than a block has threads), 1 to 32 heads, theta
// 1e4 to 1e6, padded (strided) rows, and positions 0, 1, 4095, 65535, 131071 among random ones up to 131071
// (where a one-ulp difference in inv_freq or in the angle's rounding would show as ~1e-2). Both twins
// take inv_freq from rope_inv_freq and round position·inv_freq to f32; only cosf/sinf's last bits differ,
// so the tolerance is 1e-5 absolute on N(0, 1) inputs. The GPU call is given a host span of zeros and
// the real positions on the device only, so a kernel reading the wrong array fails.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <span>
#include <vector>

#include "cuda_test_support.h"
#include "mamba_test_support.h"
#include "strata/core/error.h"
#include "strata/kernels/rope.h"

namespace strata {
namespace {

using kernels::RopeParams;
using kernels::RopeStyle;
using testing::Twin;

constexpr double kTolerance = 1e-5;

Exec cpu_exec() { return Exec(testing::host_pool()); }

struct RopeCase {
  RopeStyle style;
  int64_t heads, head_dim, rotary_dim;
  float theta;
  int64_t tokens, row_pad;
};

const RopeCase kCases[] = {
    {RopeStyle::neox, 1, 64, 64, 10000.0f, 7, 0},      {RopeStyle::gptj, 1, 64, 64, 10000.0f, 7, 0},
    {RopeStyle::neox, 3, 64, 32, 10000.0f, 9, 7},      {RopeStyle::gptj, 3, 64, 32, 10000.0f, 9, 7},
    {RopeStyle::neox, 32, 128, 128, 500000.0f, 12, 0}, {RopeStyle::gptj, 8, 128, 128, 1e6f, 12, 3},
    {RopeStyle::neox, 4, 80, 20, 10000.0f, 10, 1},     {RopeStyle::gptj, 4, 80, 20, 10000.0f, 10, 1},
    {RopeStyle::neox, 2, 6, 2, 10000.0f, 5, 0},        {RopeStyle::gptj, 2, 6, 4, 10000.0f, 5, 2},
    {RopeStyle::neox, 2, 512, 512, 10000.0f, 6, 0},    {RopeStyle::gptj, 2, 512, 384, 1e6f, 6, 5},
    {RopeStyle::neox, 5, 96, 64, 1e6f, 33, 0},         {RopeStyle::neox, 1, 2, 2, 10000.0f, 8, 0},
};

// The long-context positions first, then random ones in [0, 131071].
std::vector<int64_t> make_positions(int64_t tokens, std::mt19937& rng) {
  const int64_t fixed[] = {0, 1, 4095, 65535, 131071};
  std::uniform_int_distribution<int64_t> pick(0, 131071);
  std::vector<int64_t> positions;
  for (int64_t t = 0; t < tokens; ++t) positions.push_back(t < 5 ? fixed[t] : pick(rng));
  return positions;
}

double max_abs_difference(const Twin& x) {
  const testing::HostTensor back = x.gpu_result();
  const std::vector<float> got = testing::as_floats(back.tensor), want = testing::as_floats(x.cpu());
  double worst = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    if (!std::isfinite(got[i])) return INFINITY;
    worst = std::max(worst, std::fabs(static_cast<double>(got[i]) - want[i]));
  }
  return worst;
}

void run_case(const RopeCase& c, std::mt19937& rng) {
  const RopeParams params{.n_heads = c.heads, .head_dim = c.head_dim, .rotary_dim = c.rotary_dim,
                          .theta = c.theta, .style = c.style};
  const int64_t width = c.heads * c.head_dim;
  const Twin buffer = testing::make_twin(DType::f32, {c.tokens, width + c.row_pad}, rng);
  const std::vector<int64_t> positions = make_positions(c.tokens, rng);
  const std::vector<int64_t> zeros(positions.size(), 0);
  const Buffer device_positions(std::max<size_t>(positions.size() * sizeof(int64_t), 1), Device::cuda);
  cuda::copy(device_positions.data(), positions.data(), positions.size() * sizeof(int64_t));

  kernels::apply_rope(params, testing::columns_of(buffer.cpu(), 0, width), std::span<const int64_t>(positions),
                      cpu_exec());
  kernels::apply_rope(params, testing::columns_of(buffer.gpu(), 0, width),
                      kernels::Mirrored<int64_t>(zeros, static_cast<const int64_t*>(device_positions.data())),
                      testing::gpu_exec());
  SCOPED_TRACE(::testing::Message() << (c.style == RopeStyle::neox ? "neox" : "gptj") << " heads " << c.heads
                                    << " head_dim " << c.head_dim << " rotary_dim " << c.rotary_dim << " theta "
                                    << c.theta << " tokens " << c.tokens << " pad " << c.row_pad);
  EXPECT_LE(max_abs_difference(buffer), kTolerance);
}

TEST(CudaRope, MatchesCpuForEveryStyleAndRotaryDim) {
  STRATA_REQUIRE_GPU();
  std::mt19937 rng(41);
  for (const RopeCase& c : kCases) run_case(c, rng);
}

// The model's shapes: many tokens (a prefill chunk) with GQA's fewer k heads.
TEST(CudaRope, PrefillSizedBatch) {
  STRATA_REQUIRE_GPU();
  std::mt19937 rng(42);
  run_case({RopeStyle::neox, 32, 128, 128, 10000.0f, 2048, 0}, rng);
  run_case({RopeStyle::neox, 8, 128, 64, 10000.0f, 2048, 0}, rng);
}

// Dimensions past rotary_dim and the row padding are untouched: compared bit for bit.
TEST(CudaRope, PassThroughDimensionsUntouched) {
  STRATA_REQUIRE_GPU();
  std::mt19937 rng(43);
  const RopeParams params{.n_heads = 3, .head_dim = 64, .rotary_dim = 16, .theta = 10000.0f, .style = RopeStyle::gptj};
  const Twin buffer = testing::make_twin(DType::f32, {4, 3 * 64 + 5}, rng);
  const testing::HostTensor before = buffer.gpu_result();
  const std::vector<int64_t> positions = {3, 65535, 131071, 17};
  const Buffer device_positions(positions.size() * sizeof(int64_t), Device::cuda);
  cuda::copy(device_positions.data(), positions.data(), positions.size() * sizeof(int64_t));
  kernels::apply_rope(params, testing::columns_of(buffer.gpu(), 0, 3 * 64),
                      kernels::Mirrored<int64_t>(positions, static_cast<const int64_t*>(device_positions.data())),
                      testing::gpu_exec());
  const testing::HostTensor after = buffer.gpu_result();
  for (int64_t t = 0; t < 4; ++t)
    for (int64_t c = 0; c < 3 * 64 + 5; ++c) {
      const int64_t i = t * (3 * 64 + 5) + c;
      const bool rotated = c < 3 * 64 && c % 64 < 16;
      const float b = before.tensor.ptr<float>()[i], a = after.tensor.ptr<float>()[i];
      if (!rotated) {
        ASSERT_EQ(a, b) << "row " << t << " column " << c;
      }
    }
}

TEST(CudaRope, NoRowsLaunchNothingAndDevicePositionsAreRequired) {
  STRATA_REQUIRE_GPU();
  std::mt19937 rng(44);
  const RopeParams params{.n_heads = 2, .head_dim = 8, .rotary_dim = 8, .theta = 10000.0f, .style = RopeStyle::neox};
  const Twin empty = testing::make_twin(DType::f32, {0, 16}, rng);
  kernels::apply_rope(params, empty.gpu(), std::span<const int64_t>(), testing::gpu_exec());
  testing::gpu()->synchronize();
  EXPECT_NO_THROW(cuda::check_last_error("empty rope"));
  const Twin x = testing::make_twin(DType::f32, {2, 16}, rng);
  const std::vector<int64_t> positions = {0, 1};
  EXPECT_THROW(kernels::apply_rope(params, x.gpu(), std::span<const int64_t>(positions), testing::gpu_exec()),
               Error);  // host positions only
  const Buffer device_positions(2 * sizeof(int64_t), Device::cuda);
  const kernels::Mirrored<int64_t> one(std::span<const int64_t>(positions).first(1),
                                       static_cast<const int64_t*>(device_positions.data()));
  EXPECT_THROW(kernels::apply_rope(params, x.gpu(), one, testing::gpu_exec()), Error);  // one position, two rows
}

}  // namespace
}  // namespace strata
