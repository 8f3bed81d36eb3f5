// CUDA FFN activations (relu², SiLU-gated, exact GELU, GELU-gated) against their CPU twins: odd widths
// (1, 7, 33, 1000, scalar path), multiples of 4 on aligned rows (float4 path), h and gate as column
// windows of wider buffers in different layouts, wide-range inputs (SiLU's exp overflow at -100 must give
// -0, not NaN; erf saturates), NaN propagation through relu², and empty shapes. The only differences
// are expf / erff's last bits (and the CPU's AVX-512 exp polynomial), so 1e-5 relative is generous.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "cuda_test_support.h"
#include "mamba_test_support.h"
#include "strata/core/error.h"
#include "strata/kernels/activations.h"

namespace strata {
namespace {

using kernels::FfnActivation;
using testing::columns_of;
using testing::Twin;

constexpr double kTolerance = 1e-5;

Exec cpu_exec() { return Exec(testing::host_pool()); }

const FfnActivation kActivations[] = {FfnActivation::relu2, FfnActivation::silu_gated, FfnActivation::gelu,
                                      FfnActivation::gelu_gated};

struct Shape {
  int64_t rows, width, h_col, h_pad, gate_col, gate_pad;
};

const Shape kShapes[] = {
    {1, 1, 0, 0, 0, 0},      {6, 1, 0, 0, 1, 0},     {9, 7, 0, 0, 0, 0},     {9, 7, 2, 1, 3, 0},
    {4, 33, 1, 2, 0, 7},     {3, 1000, 0, 0, 0, 0},  {3, 1000, 5, 0, 1, 1},  {8, 1024, 0, 0, 0, 0},
    {8, 1024, 4, 4, 0, 8},   {8, 1024, 0, 0, 1, 0},  {65, 2048, 0, 0, 0, 0}, {2, 20480, 0, 4, 4, 0},
};

TEST(CudaActivations, MatchCpuOnEveryShape) {
  STRATA_REQUIRE_GPU();
  std::mt19937 rng(11);
  for (const FfnActivation activation : kActivations)
    for (const Shape& s : kShapes) {
      Twin h = testing::make_twin(DType::f32, {s.rows, s.h_col + s.width + s.h_pad}, rng, 3.0f);
      Twin gate = testing::make_twin(DType::f32, {s.rows, s.gate_col + s.width + s.gate_pad}, rng, 3.0f);
      const Tensor h_cpu = columns_of(h.cpu(), s.h_col, s.width), h_gpu = columns_of(h.gpu(), s.h_col, s.width);
      const Tensor g_cpu = columns_of(gate.cpu(), s.gate_col, s.width);
      const Tensor g_gpu = columns_of(gate.gpu(), s.gate_col, s.width);
      kernels::ffn_activation(activation, h_cpu, g_cpu, cpu_exec());
      kernels::ffn_activation(activation, h_gpu, g_gpu, testing::gpu_exec());
      SCOPED_TRACE(::testing::Message() << kernels::ffn_activation_name(activation) << " rows " << s.rows
                                        << " width " << s.width << " h_col " << s.h_col << " gate_col " << s.gate_col);
      testing::expect_close(h, kTolerance, "h");
      testing::expect_identical(gate, "gate (read only)");
    }
}

// The ungated activations ignore gate entirely: an absent one is fine.
TEST(CudaActivations, UngatedNeedNoGate) {
  STRATA_REQUIRE_GPU();
  std::mt19937 rng(12);
  for (const FfnActivation activation : {FfnActivation::relu2, FfnActivation::gelu}) {
    Twin h = testing::make_twin(DType::f32, {5, 40}, rng, 2.0f);
    kernels::ffn_activation(activation, h.cpu(), Tensor{}, cpu_exec());
    kernels::ffn_activation(activation, h.gpu(), Tensor{}, testing::gpu_exec());
    testing::expect_close(h, kTolerance, kernels::ffn_activation_name(activation));
  }
}

// Extreme and special inputs, element for element (NaN must stay NaN on both sides).
TEST(CudaActivations, SpecialValues) {
  STRATA_REQUIRE_GPU();
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<float> values = {0.0f,   -0.0f,  1e-30f, -1e-30f, 1e-3f,  -1e-3f, 5.0f,   -5.0f,  20.0f,
                                     -20.0f, 88.0f,  -88.0f, 90.0f,   -90.0f, 100.0f, -100.0f, 1e30f, -1e30f,
                                     inf,    -inf,   nan,    3.0f};
  const int64_t n = static_cast<int64_t>(values.size());
  for (const FfnActivation activation : kActivations) {
    testing::HostTensor h = testing::host_tensor(DType::f32, {1, n}), gate = testing::host_tensor(DType::f32, {1, n});
    std::vector<float> ups(values.size(), 1.5f);
    std::copy(values.begin(), values.end(), gate.tensor.ptr<float>());
    // Gated: the special values are the gate (up = 1.5); ungated: they are h itself.
    std::copy(kernels::is_gated(activation) ? ups.begin() : values.begin(),
              kernels::is_gated(activation) ? ups.end() : values.end(), h.tensor.ptr<float>());
    testing::DeviceTensor h_gpu = testing::to_device(h.tensor), gate_gpu = testing::to_device(gate.tensor);
    kernels::ffn_activation(activation, h.tensor, gate.tensor, cpu_exec());
    kernels::ffn_activation(activation, h_gpu.tensor, gate_gpu.tensor, testing::gpu_exec());
    const std::vector<float> got = testing::device_floats(h_gpu.tensor);
    for (int64_t i = 0; i < n; ++i) {
      const float want = h.tensor.ptr<float>()[i], g = got[static_cast<size_t>(i)];
      SCOPED_TRACE(::testing::Message() << kernels::ffn_activation_name(activation) << " input "
                                        << values[static_cast<size_t>(i)]);
      if (std::isnan(want)) {
        EXPECT_TRUE(std::isnan(g)) << "gpu " << g;
      } else if (std::isinf(want)) {
        EXPECT_EQ(g, want);
      } else {
        EXPECT_NEAR(g, want, 1e-5 * std::max(1.0f, std::fabs(want))) << "gpu " << g;
        EXPECT_EQ(std::signbit(g), std::signbit(want)) << "gpu " << g << " cpu " << want;
      }
    }
  }
}

TEST(CudaActivations, EmptyShapesLaunchNothing) {
  STRATA_REQUIRE_GPU();
  std::mt19937 rng(13);
  const Twin empty_rows = testing::make_twin(DType::f32, {0, 16}, rng);
  const Twin empty_width = testing::make_twin(DType::f32, {3, 0}, rng);
  for (const FfnActivation activation : kActivations)
    for (const Twin* t : {&empty_rows, &empty_width})
      kernels::ffn_activation(activation, t->gpu(), t->gpu(), testing::gpu_exec());
  testing::gpu()->synchronize();
  EXPECT_NO_THROW(cuda::check_last_error("empty activations"));
}

TEST(CudaActivations, GateOfAnotherShapeIsRefused) {
  STRATA_REQUIRE_GPU();
  std::mt19937 rng(14);
  const Twin h = testing::make_twin(DType::f32, {4, 8}, rng), gate = testing::make_twin(DType::f32, {4, 9}, rng);
  EXPECT_THROW(kernels::ffn_activation(FfnActivation::silu_gated, h.gpu(), gate.gpu(), testing::gpu_exec()), Error);
  EXPECT_THROW(kernels::ffn_activation(FfnActivation::gelu_gated, h.gpu(), Tensor{}, testing::gpu_exec()), Error);
}

}  // namespace
}  // namespace strata
