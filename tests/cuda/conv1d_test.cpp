// CUDA causal conv1d against its CPU twin on the same random inputs: packed prefill with lengths below
// K-1, empty sequences, out-of-order slots and fresh starts (every K), tiles crossing sequences, decode
// with padding rows, verify with intermediates, f32 and bf16 pools, column-window inputs and outputs,
// and the mamba2-2.7b shape. Outputs agree within 1e-5 (the only difference is expf inside SiLU);
// states are copies of inputs, so they agree bit for bit. Verify is also checked against a chain of
// one-token CUDA calls, bit for bit.
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "cuda_test_support.h"
#include "mamba_test_support.h"
#include "strata/kernels/conv1d.h"

namespace strata {
namespace {

using testing::DeviceBatch;
using testing::Twin;

constexpr double kOutTolerance = 1e-5;

// One conv problem. x is columns [x_col, x_col + C) of a wider activation buffer (as the mixer's xBC is
// a window of in_proj's output), out is columns [1, 1 + C) of a [T, C + 3] buffer, so both are strided.
struct ConvSetup {
  kernels::CausalConv1dParams params;
  int64_t T, num_slots, x_col;
  DType state_dtype;
  Twin act, weight, bias, state, out_buffer;
  bool with_bias = true;

  ConvSetup(int64_t C, int64_t K, int64_t T_, int64_t num_slots_, DType dtype, std::mt19937& rng,
            int64_t x_col_ = 3, int64_t x_width = -1)
      : params{C, K, true}, T(T_), num_slots(num_slots_), x_col(x_col_), state_dtype(dtype),
        act(testing::make_twin(DType::f32, {T_, x_width > 0 ? x_width : C + x_col_ + 5}, rng)),
        weight(testing::make_twin(DType::f32, {C, K}, rng, 0.5f)),
        bias(testing::make_twin(DType::f32, {C}, rng, 0.3f)),
        state(testing::make_twin(dtype, {num_slots_, K - 1, C}, rng)),
        out_buffer(testing::make_output({T_, C + 3}, rng)) {}

  int64_t C() const { return params.conv_dim; }
  int64_t K() const { return params.kernel_width; }
  Tensor x(bool gpu) const { return testing::columns_of(gpu ? act.gpu() : act.cpu(), x_col, C()); }
  Tensor out(bool gpu) const { return testing::columns_of(gpu ? out_buffer.gpu() : out_buffer.cpu(), 1, C()); }
  Tensor bias_of(bool gpu) const { return with_bias ? (gpu ? bias.gpu() : bias.cpu()) : Tensor{}; }
};

Exec cpu_exec() { return Exec(testing::host_pool()); }

void run_prefill(ConvSetup& s, DeviceBatch& b) {
  b.upload();
  kernels::check_causal_conv1d(s.params, s.x(true), s.weight.gpu(), s.bias_of(true), b.device_view(), s.state.gpu(),
                               {}, s.out(true), false);
  kernels::causal_conv1d_prefill(s.params, s.x(false), s.weight.cpu(), s.bias_of(false), b.host_view(), s.state.cpu(),
                                 s.out(false), cpu_exec());
  kernels::causal_conv1d_prefill(s.params, s.x(true), s.weight.gpu(), s.bias_of(true), b.device_view(), s.state.gpu(),
                                 s.out(true), testing::gpu_exec());
  testing::expect_close(s.out_buffer, kOutTolerance, "out");
  testing::expect_identical(s.state, "conv_state");
}

// intermediate: absent, or [num_sequences, steps, K-1, C] in the pool's dtype (poisoned).
void run_decode(ConvSetup& s, DeviceBatch& b, Twin* intermediate) {
  b.upload();
  const Tensor inter_cpu = intermediate ? intermediate->cpu() : Tensor{};
  const Tensor inter_gpu = intermediate ? intermediate->gpu() : Tensor{};
  kernels::check_causal_conv1d(s.params, s.x(true), s.weight.gpu(), s.bias_of(true), b.device_view(), s.state.gpu(),
                               inter_gpu, s.out(true), true);
  kernels::causal_conv1d_decode(s.params, s.x(false), s.weight.cpu(), s.bias_of(false), b.host_view(), s.state.cpu(),
                                inter_cpu, s.out(false), cpu_exec());
  kernels::causal_conv1d_decode(s.params, s.x(true), s.weight.gpu(), s.bias_of(true), b.device_view(), s.state.gpu(),
                                inter_gpu, s.out(true), testing::gpu_exec());
  testing::expect_close(s.out_buffer, kOutTolerance, "out");
  testing::expect_identical(s.state, "conv_state");
  if (intermediate) testing::expect_identical(*intermediate, "intermediate");
}

const DType kPools[] = {DType::f32, DType::bf16};

TEST(CudaCausalConv1d, PrefillMixedLengthsMatchesCpu) {
  STRATA_REQUIRE_GPU();
  for (DType dtype : kPools)
    for (int64_t K : {2, 3, 4, 5, 8}) {
      SCOPED_TRACE(::testing::Message() << "K=" << K << " pool " << dtype_name(dtype));
      std::mt19937 rng(static_cast<uint32_t>(K));
      // Lengths below K-1, an empty sequence and long ones; slots out of order; slot 6 unused.
      DeviceBatch b;
      const int64_t lengths[] = {1, 2, 9, 0, 40, 3};
      const int32_t slots[] = {5, 0, 2, 1, 3, 4};
      const bool initial[] = {true, false, true, true, false, true};
      for (int i = 0; i < 6; ++i) b.add(lengths[i], slots[i], initial[i]);
      ConvSetup s(70, K, b.num_tokens(), 7, dtype, rng);
      run_prefill(s, b);
    }
}

TEST(CudaCausalConv1d, PrefillWithoutBiasOrSilu) {
  STRATA_REQUIRE_GPU();
  std::mt19937 rng(11);
  DeviceBatch b;
  b.add(5, 1, true);
  b.add(2, 0, false);
  ConvSetup s(20, 4, b.num_tokens(), 2, DType::f32, rng);
  s.params.silu = false;
  s.with_bias = false;
  run_prefill(s, b);
}

TEST(CudaCausalConv1d, PrefillTilesCrossSequencesWithOddChannels) {
  STRATA_REQUIRE_GPU();
  for (DType dtype : kPools) {
    SCOPED_TRACE(dtype_name(dtype));
    std::mt19937 rng(12);
    // 32-token tiles start inside sequences, span empty ones and several short ones; 333 channels leave a
    // partial channel block.
    DeviceBatch b;
    const int64_t lengths[] = {100, 1, 0, 0, 33, 64, 31, 2, 1, 70};
    const int32_t slots[] = {9, 3, 0, 7, 1, 8, 2, 4, 6, 5};
    const bool initial[] = {true, true, false, true, false, true, true, false, true, true};
    for (int i = 0; i < 10; ++i) b.add(lengths[i], slots[i], initial[i]);
    ConvSetup s(333, 4, b.num_tokens(), 11, dtype, rng);
    run_prefill(s, b);
  }
}

TEST(CudaCausalConv1d, PrefillOfEmptySequencesOnlyUpdatesStates) {
  STRATA_REQUIRE_GPU();
  std::mt19937 rng(13);
  DeviceBatch b;
  b.add(0, 1, false);  // zeros
  b.add(0, 0, true);   // unchanged
  ConvSetup s(50, 4, 0, 3, DType::f32, rng);
  run_prefill(s, b);
}

TEST(CudaCausalConv1d, PrefillMamba2_2p7bShape) {
  STRATA_REQUIRE_GPU();
  for (DType dtype : kPools) {
    SCOPED_TRACE(dtype_name(dtype));
    std::mt19937 rng(14);
    DeviceBatch b;
    b.add(300, 3, false);
    b.add(7, 0, true);
    b.add(1, 5, true);
    b.add(129, 1, true);
    b.add(2, 2, false);
    // xBC = columns [d_inner, d_inner + conv_dim) of in_proj's [T, 2·5120 + 2·128 + 80] output.
    ConvSetup s(5376, 4, b.num_tokens(), 6, dtype, rng, 5120, 2 * 5120 + 2 * 128 + 80);
    run_prefill(s, b);
  }
}

TEST(CudaCausalConv1d, DecodeMatchesCpu) {
  STRATA_REQUIRE_GPU();
  for (DType dtype : kPools)
    for (int64_t K : {2, 4, 8}) {
      SCOPED_TRACE(::testing::Message() << "K=" << K << " pool " << dtype_name(dtype));
      std::mt19937 rng(static_cast<uint32_t>(20 + K));
      DeviceBatch b;
      b.add(1, 4, true);
      b.add(1, -1, true);  // padding row: zero out, no state touched
      b.add(1, 0, false);  // fresh: starts from zeros
      b.add(1, 2, true);
      b.add(1, 1, true);
      ConvSetup s(90, K, b.num_tokens(), 6, dtype, rng);
      run_decode(s, b, nullptr);
    }
}

TEST(CudaCausalConv1d, VerifyWithIntermediatesMatchesCpu) {
  STRATA_REQUIRE_GPU();
  for (DType dtype : kPools) {
    SCOPED_TRACE(dtype_name(dtype));
    std::mt19937 rng(30);
    DeviceBatch b;
    b.add(4, 2, false);
    b.add(4, -1, true);
    b.add(2, 0, true);  // shorter: its last intermediate rows stay poisoned on both sides
    b.add(4, 3, true);
    b.add(0, 1, true);  // empty: rewrites its rows unchanged
    ConvSetup s(77, 4, b.num_tokens(), 5, dtype, rng);
    Twin intermediate = testing::make_output({5, b.max_length() + 1, 3, 77}, rng, dtype);
    run_decode(s, b, &intermediate);
  }
}

TEST(CudaCausalConv1d, DecodeAndVerifyMamba2_2p7bShape) {
  STRATA_REQUIRE_GPU();
  for (DType dtype : kPools)
    for (int64_t steps : {1, 4}) {
      SCOPED_TRACE(::testing::Message() << steps << " tokens, pool " << dtype_name(dtype));
      std::mt19937 rng(static_cast<uint32_t>(40 + steps));
      DeviceBatch b;
      const int num_seq = 32;
      for (int i = 0; i < num_seq; ++i) b.add(steps, (i * 7 + 3) % 40, i % 5 != 0);
      ConvSetup s(5376, 4, b.num_tokens(), 40, dtype, rng, 5120, 2 * 5120 + 2 * 128 + 80);
      Twin intermediate = testing::make_output({num_seq, steps, 3, 5376}, rng, dtype);
      run_decode(s, b, steps > 1 ? &intermediate : nullptr);
    }
}

// A (1+S)-token CUDA call leaves in intermediate [i, j] exactly what j+1 one-token CUDA calls leave in
// the slot, and produces the same outputs, bit for bit.
TEST(CudaCausalConv1d, VerifyEqualsChainOfSingleTokenCalls) {
  STRATA_REQUIRE_GPU();
  for (DType dtype : kPools) {
    SCOPED_TRACE(dtype_name(dtype));
    std::mt19937 rng(50);
    const int64_t C = 130, K = 4, steps = 4, num_seq = 2, num_slots = 3;
    DeviceBatch verify;
    verify.add(steps, 2, false);
    verify.add(steps, 0, true);
    ConvSetup s(C, K, num_seq * steps, num_slots, dtype, rng);
    // The chain runs on its own copy of the initial pool.
    Twin chain = testing::make_twin(dtype, {num_slots, K - 1, C}, rng);
    cuda::copy(chain.gpu().data, s.state.gpu().data, testing::extent_bytes(s.state.gpu()));
    Twin intermediate = testing::make_output({num_seq, steps, K - 1, C}, rng, dtype);
    verify.upload();
    kernels::causal_conv1d_decode(s.params, s.x(true), s.weight.gpu(), s.bias.gpu(), verify.device_view(),
                                  s.state.gpu(), intermediate.gpu(), s.out(true), testing::gpu_exec());

    const Tensor chain_state = chain.gpu();
    Twin step_out = testing::make_output({1, C}, rng);
    const size_t row_bytes = static_cast<size_t>((K - 1) * C) * dtype_size(dtype);
    for (int64_t j = 0; j < steps; ++j)
      for (int64_t i = 0; i < num_seq; ++i) {
        DeviceBatch one;
        one.add(1, verify.slots[static_cast<size_t>(i)], i != 0 || j != 0);
        one.upload();
        const int64_t row = i * steps + j;
        const Tensor x_row = s.x(true).slice(row, row + 1);
        kernels::causal_conv1d_decode(s.params, x_row, s.weight.gpu(), s.bias.gpu(), one.device_view(), chain_state, {},
                                      step_out.gpu(), testing::gpu_exec());
        const Tensor verify_row = s.out(true).slice(row, row + 1);
        ASSERT_TRUE(testing::device_bytes_equal(step_out.gpu(), verify_row, static_cast<size_t>(C) * sizeof(float)))
            << "output of sequence " << i << " token " << j;
        const Tensor slot_rows = chain_state[verify.slots[static_cast<size_t>(i)]];
        const Tensor inter_rows = intermediate.gpu()[i][j];
        ASSERT_TRUE(testing::device_bytes_equal(slot_rows, inter_rows, row_bytes))
            << "intermediate of sequence " << i << " token " << j;
      }
    EXPECT_TRUE(testing::device_bytes_equal(s.state.gpu(), chain_state, testing::extent_bytes(chain_state)));
  }
}

}  // namespace
}  // namespace strata
