// CUDA selective state update against its CPU twin on the same random inputs: decode with groups,
// padding rows, fresh and out-of-order slots; long sequences; dt limits, no softplus, absent D and
// dt_bias; verify with intermediates; odd P and N (partial warps, partial lanes, N up to 512); f32 and
// bf16 pools; the mamba2-2.7b and Nemotron-H-8B shapes. Inputs are column windows of one wide
// activation row per token, y is a column window too. Verify is also checked against a chain of
// one-token CUDA calls, bit for bit.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "cuda_test_support.h"
#include "mamba_test_support.h"
#include "strata/kernels/state_update.h"

namespace strata {
namespace {

using testing::DeviceBatch;
using testing::Twin;

// f32 math on both sides; they differ by the last bit of exp/log1p and the order of the N-sum.
constexpr double kF32Tolerance = 1e-5;
// y of a multi-token call over a bf16 pool: a rare one-ulp bf16 rounding difference in a carried state
// element (see expect_bf16_states_match) moves later tokens' y by about 2^-8·|s·C|.
constexpr double kBf16MultiTokenYTolerance = 2e-3;

// Activations as in_proj leaves them, one row per token: [x (H·P) | B (G·N) | C (G·N) | dt (H) | 3 spare].
struct SsmSetup {
  kernels::SelectiveStateUpdateParams params;
  int64_t T, num_slots, width;
  DType dtype;
  Twin act, A, D, dt_bias, state, y_buffer;
  bool with_D = true, with_dt_bias = true;

  SsmSetup(int64_t H, int64_t P, int64_t N, int64_t G, int64_t T_, int64_t num_slots_, DType dtype_, std::mt19937& rng)
      : params{H, P, N, G, true}, T(T_), num_slots(num_slots_), width(H * P + 2 * G * N + H + 3), dtype(dtype_),
        act(testing::make_twin(DType::f32, {T_, width}, rng)),
        A(testing::make_twin(DType::f32, {H}, rng)),
        D(testing::make_twin(DType::f32, {H}, rng)),
        dt_bias(testing::make_twin(DType::f32, {H}, rng, 0.5f)),
        state(testing::make_twin(dtype_, {num_slots_, H, P, N}, rng)),
        y_buffer(testing::make_output({T_, H * P + 2}, rng)) {
    std::uniform_real_distribution<float> uniform(0.0f, 1.0f);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    float* a = act.host.tensor.ptr<float>();
    for (int64_t t = 0; t < T; ++t)  // raw dt spans softplus's threshold (20) on purpose
      for (int64_t h = 0; h < H; ++h)
        a[t * width + dt_col() + h] = (t + h) % 7 == 3 ? 21.0f + uniform(rng) : 2.0f * normal(rng) - 1.0f;
    testing::reupload(act);
    for (int64_t h = 0; h < H; ++h) A.host.tensor.ptr<float>()[h] = -std::exp(-1.0f + 2.0f * uniform(rng));
    testing::reupload(A);
  }
  int64_t H() const { return params.n_heads; }
  int64_t P() const { return params.head_dim; }
  int64_t N() const { return params.state_size; }
  int64_t G() const { return params.n_groups; }
  int64_t b_col() const { return H() * P(); }
  int64_t c_col() const { return b_col() + G() * N(); }
  int64_t dt_col() const { return c_col() + G() * N(); }

  kernels::SelectiveStateUpdateInputs inputs(bool gpu) const {
    const Tensor& a = gpu ? act.gpu() : act.cpu();
    return {testing::columns_of(a, 0, H() * P()), testing::columns_of(a, dt_col(), H()),
            testing::columns_of(a, b_col(), G() * N()), testing::columns_of(a, c_col(), G() * N())};
  }
  kernels::SelectiveStateUpdateWeights weights(bool gpu) const {
    return {gpu ? A.gpu() : A.cpu(), with_D ? (gpu ? D.gpu() : D.cpu()) : Tensor{},
            with_dt_bias ? (gpu ? dt_bias.gpu() : dt_bias.cpu()) : Tensor{}};
  }
  Tensor y(bool gpu) const { return testing::columns_of(gpu ? y_buffer.gpu() : y_buffer.cpu(), 1, H() * P()); }
  Twin make_intermediate(int64_t num_sequences, int64_t steps, std::mt19937& rng) const {
    return testing::make_output({num_sequences, steps, H(), P(), N()}, rng, dtype);
  }
};

void expect_states_match(const Twin& twin, const char* what) {
  if (twin.cpu().dtype == DType::bf16)
    testing::expect_bf16_states_match(twin, what);
  else
    testing::expect_close(twin, kF32Tolerance, what);
}

// Runs both twins on the same inputs and compares y, the pool and (when given) the intermediates.
void run(SsmSetup& s, DeviceBatch& b, Twin* intermediate = nullptr) {
  b.upload();
  const Tensor inter_cpu = intermediate ? intermediate->cpu() : Tensor{};
  const Tensor inter_gpu = intermediate ? intermediate->gpu() : Tensor{};
  kernels::check_selective_state_update(s.params, s.inputs(true), s.weights(true), b.device_view(), s.state.gpu(),
                                        inter_gpu, s.y(true));
  kernels::selective_state_update(s.params, s.inputs(false), s.weights(false), b.host_view(), s.state.cpu(), inter_cpu,
                                  s.y(false), Exec(testing::host_pool()));
  kernels::selective_state_update(s.params, s.inputs(true), s.weights(true), b.device_view(), s.state.gpu(), inter_gpu,
                                  s.y(true), testing::gpu_exec());
  const bool multi_token_bf16 = s.dtype == DType::bf16 && b.max_length() > 1;
  testing::expect_close(s.y_buffer, multi_token_bf16 ? kBf16MultiTokenYTolerance : kF32Tolerance, "y");
  expect_states_match(s.state, "ssm_state");
  if (intermediate) expect_states_match(*intermediate, "intermediate");
}

const DType kPools[] = {DType::f32, DType::bf16};

TEST(CudaSelectiveStateUpdate, DecodeWithGroupsPaddingAndFreshSlotsMatchesCpu) {
  STRATA_REQUIRE_GPU();
  for (DType dtype : kPools) {
    SCOPED_TRACE(dtype_name(dtype));
    std::mt19937 rng(1);
    DeviceBatch b;
    b.add(1, 3, true);
    b.add(1, -1, true);  // padding: y zero, no state touched
    b.add(1, 0, false);  // fresh: starts from zeros whatever the slot holds
    b.add(1, 4, true);
    SsmSetup s(6, 5, 40, 3, b.num_tokens(), 5, dtype, rng);  // N = 40: lanes 8..31 of the second pass idle
    run(s, b);
  }
}

TEST(CudaSelectiveStateUpdate, LongSequencesMatchCpu) {
  STRATA_REQUIRE_GPU();
  for (DType dtype : kPools) {
    SCOPED_TRACE(dtype_name(dtype));
    std::mt19937 rng(2);
    DeviceBatch b;
    b.add(40, 1, true);
    b.add(5, 0, false);
    SsmSetup s(4, 8, 64, 1, b.num_tokens(), 2, dtype, rng);
    run(s, b);
  }
}

TEST(CudaSelectiveStateUpdate, DtLimitsClampAfterSoftplus) {
  STRATA_REQUIRE_GPU();
  std::mt19937 rng(3);
  DeviceBatch b;
  b.add(3, 0, true);
  SsmSetup s(2, 3, 16, 1, b.num_tokens(), 1, DType::f32, rng);
  s.params.dt_min = 0.2f;
  s.params.dt_max = 0.6f;
  run(s, b);
}

TEST(CudaSelectiveStateUpdate, NoSoftplusNoDNoDtBias) {
  STRATA_REQUIRE_GPU();
  std::mt19937 rng(4);
  DeviceBatch b;
  b.add(2, 1, true);
  b.add(1, 0, true);
  SsmSetup s(4, 4, 32, 2, b.num_tokens(), 2, DType::f32, rng);
  s.params.dt_softplus = false;  // dt_min = 0 clamps negative raw dt
  s.with_D = false;
  s.with_dt_bias = false;
  run(s, b);
}

TEST(CudaSelectiveStateUpdate, VerifyWithIntermediatesMatchesCpu) {
  STRATA_REQUIRE_GPU();
  for (DType dtype : kPools) {
    SCOPED_TRACE(dtype_name(dtype));
    std::mt19937 rng(5);
    DeviceBatch b;
    b.add(4, 2, false);  // a fresh sequence verifies too
    b.add(4, -1, true);
    b.add(4, 0, true);
    b.add(2, 3, true);  // shorter: its last intermediates stay poisoned on both sides
    b.add(0, 1, true);  // empty: the slot stays as it is
    SsmSetup s(4, 6, 48, 2, b.num_tokens(), 5, dtype, rng);
    Twin intermediate = s.make_intermediate(5, 4, rng);
    run(s, b, &intermediate);
  }
}

TEST(CudaSelectiveStateUpdate, OddShapesMatchCpu) {
  STRATA_REQUIRE_GPU();
  struct Shape {
    int64_t H, P, N, G;
  };
  // P = 17 and 5: partial blocks and partial warps; N = 1, 33, 200, 512: idle lanes in every kernel width.
  const Shape shapes[] = {{3, 17, 1, 1}, {3, 17, 33, 3}, {2, 5, 200, 1}, {4, 19, 512, 2}, {1, 64, 128, 1}};
  for (const Shape& shape : shapes)
    for (DType dtype : kPools) {
      SCOPED_TRACE(::testing::Message() << "H=" << shape.H << " P=" << shape.P << " N=" << shape.N << " G=" << shape.G
                                        << " pool " << dtype_name(dtype));
      std::mt19937 rng(static_cast<uint32_t>(shape.P * 1000 + shape.N));
      DeviceBatch b;
      b.add(3, 1, true);
      b.add(1, 2, false);
      b.add(3, 0, true);
      SsmSetup s(shape.H, shape.P, shape.N, shape.G, b.num_tokens(), 3, dtype, rng);
      Twin intermediate = s.make_intermediate(3, 3, rng);
      run(s, b, &intermediate);
    }
}

// decode: `num_seq` one-token sequences; verify: 1+3 tokens with intermediates.
void real_shape(int64_t H, int64_t P, int64_t N, int64_t G) {
  for (DType dtype : kPools)
    for (int64_t steps : {1, 4}) {
      SCOPED_TRACE(::testing::Message() << steps << " tokens, pool " << dtype_name(dtype));
      std::mt19937 rng(static_cast<uint32_t>(H + steps));
      const int num_seq = steps == 1 ? 8 : 4, num_slots = 10;
      DeviceBatch b;
      for (int i = 0; i < num_seq; ++i) b.add(steps, (i * 3 + 7) % num_slots, i != 1);
      SsmSetup s(H, P, N, G, b.num_tokens(), num_slots, dtype, rng);
      if (steps == 1) {
        run(s, b);
      } else {
        Twin intermediate = s.make_intermediate(num_seq, steps, rng);
        run(s, b, &intermediate);
      }
    }
}

TEST(CudaSelectiveStateUpdate, Mamba2_2p7bShape) {
  STRATA_REQUIRE_GPU();
  real_shape(80, 64, 128, 1);
}

TEST(CudaSelectiveStateUpdate, NemotronH8bShape) {
  STRATA_REQUIRE_GPU();
  real_shape(128, 64, 128, 8);
}

// A (1+S)-token CUDA call equals 1+S one-token CUDA calls bit for bit: every y, every intermediate
// (the slot after that many calls) and the final pool.
TEST(CudaSelectiveStateUpdate, VerifyEqualsChainOfSingleTokenCalls) {
  STRATA_REQUIRE_GPU();
  for (DType dtype : kPools) {
    SCOPED_TRACE(dtype_name(dtype));
    std::mt19937 rng(9);
    const int64_t steps = 4, num_seq = 3, num_slots = 4;
    DeviceBatch verify;
    verify.add(steps, 2, false);
    verify.add(steps, -1, true);
    verify.add(steps, 0, true);
    verify.upload();
    SsmSetup s(4, 20, 96, 2, num_seq * steps, num_slots, dtype, rng);
    Twin chain = testing::make_twin(dtype, {num_slots, s.H(), s.P(), s.N()}, rng);
    cuda::copy(chain.gpu().data, s.state.gpu().data, testing::extent_bytes(s.state.gpu()));
    Twin intermediate = s.make_intermediate(num_seq, steps, rng);
    kernels::selective_state_update(s.params, s.inputs(true), s.weights(true), verify.device_view(), s.state.gpu(),
                                    intermediate.gpu(), s.y(true), testing::gpu_exec());

    const size_t per_slot_bytes = static_cast<size_t>(s.H() * s.P() * s.N()) * dtype_size(dtype);
    const size_t y_bytes = static_cast<size_t>(s.H() * s.P()) * sizeof(float);
    Twin step_y = testing::make_output({1, s.H() * s.P()}, rng);
    for (int64_t j = 0; j < steps; ++j)
      for (int64_t i = 0; i < num_seq; ++i) {
        const int32_t slot = verify.slots[static_cast<size_t>(i)];
        if (slot < 0) continue;
        DeviceBatch one;
        one.add(1, slot, i != 0 || j != 0);
        one.upload();
        const int64_t row = i * steps + j;
        kernels::SelectiveStateUpdateInputs in = s.inputs(true);
        in.x = in.x.slice(row, row + 1);
        in.dt = in.dt.slice(row, row + 1);
        in.B = in.B.slice(row, row + 1);
        in.C = in.C.slice(row, row + 1);
        kernels::selective_state_update(s.params, in, s.weights(true), one.device_view(), chain.gpu(), {},
                                        step_y.gpu(), testing::gpu_exec());
        ASSERT_TRUE(testing::device_bytes_equal(step_y.gpu(), s.y(true).slice(row, row + 1), y_bytes))
            << "y of sequence " << i << " token " << j;
        ASSERT_TRUE(testing::device_bytes_equal(chain.gpu()[slot], intermediate.gpu()[i][j], per_slot_bytes))
            << "intermediate of sequence " << i << " token " << j;
      }
    EXPECT_TRUE(testing::device_bytes_equal(s.state.gpu(), chain.gpu(), testing::extent_bytes(chain.gpu())));
  }
}

}  // namespace
}  // namespace strata
