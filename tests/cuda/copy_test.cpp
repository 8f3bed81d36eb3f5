// CUDA copy_to_f32 against its CPU twin, bit for bit (every conversion is exact): f32, bf16 and f16
// sources, element counts 1, 7, 33, 1000 (scalar path), multiples of 4 (vector path), one larger than
// one grid's worth of threads covers in a single pass, multi-dimensional state shapes, the mamba2-2.7b
// SSM state [80, 64, 128], a misaligned source (offset by one element), and empty tensors.
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "cuda_test_support.h"
#include "mamba_test_support.h"
#include "strata/core/error.h"
#include "strata/kernels/copy.h"

namespace strata {
namespace {

using testing::Twin;

Exec cpu_exec() { return Exec(testing::host_pool()); }

// `n` random values of `dtype`, on both sides.
Twin make_source(DType dtype, int64_t n, std::mt19937& rng) {
  Twin twin;
  twin.host = testing::host_tensor(dtype, {n});
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (int64_t i = 0; i < n; ++i) {
    const float v = normal(rng) * 100.0f;
    if (dtype == DType::f32)
      twin.host.tensor.ptr<float>()[i] = v;
    else
      twin.host.tensor.ptr<uint16_t>()[i] = dtype == DType::bf16 ? f32_to_bf16(v) : f32_to_f16(v);
  }
  twin.device = testing::to_device(twin.host.tensor);
  return twin;
}

Tensor reshaped(Tensor t, std::initializer_list<int64_t> shape) { return t.reshape(shape); }

TEST(CudaCopy, ToF32MatchesCpu) {
  STRATA_REQUIRE_GPU();
  std::mt19937 rng(31);
  for (const DType dtype : {DType::f32, DType::bf16, DType::f16})
    for (const int64_t n : {int64_t{1}, int64_t{7}, int64_t{33}, int64_t{1000}, int64_t{1024}, int64_t{4100},
                            int64_t{4096 * 256 * 4 + 12}, int64_t{4096 * 256 + 3}}) {
      const Twin src = make_source(dtype, n, rng);
      const Twin dst = testing::make_output({n}, rng);
      kernels::copy_to_f32(src.cpu(), dst.cpu(), cpu_exec());
      kernels::copy_to_f32(src.gpu(), dst.gpu(), testing::gpu_exec());
      SCOPED_TRACE(::testing::Message() << std::string(dtype_name(dtype)) << " n " << n);
      testing::expect_identical(dst, "copy_to_f32 dst");
    }
}

// State shapes as the verify path copies them: a conv window [K-1, conv_dim] and an SSM state [H, P, N].
TEST(CudaCopy, StateShapes) {
  STRATA_REQUIRE_GPU();
  std::mt19937 rng(32);
  const std::vector<std::vector<int64_t>> shapes = {{3, 5248}, {3, 7}, {80, 64, 128}, {2, 3, 5}};
  for (const DType dtype : {DType::f32, DType::bf16})
    for (const auto& shape : shapes) {
      int64_t n = 1;
      for (const int64_t d : shape) n *= d;
      const Twin src = make_source(dtype, n, rng);
      const Twin dst = testing::make_output({n}, rng);
      const auto view = [&](const Tensor& t) {
        return shape.size() == 2 ? reshaped(t, {shape[0], shape[1]}) : reshaped(t, {shape[0], shape[1], shape[2]});
      };
      kernels::copy_to_f32(view(src.cpu()), view(dst.cpu()), cpu_exec());
      kernels::copy_to_f32(view(src.gpu()), view(dst.gpu()), testing::gpu_exec());
      testing::expect_identical(dst, "copy_to_f32 state");
    }
}

// Source and destination one element into their buffers: neither is 16-byte aligned, so the scalar path
// must run even though the count is a multiple of 4.
TEST(CudaCopy, MisalignedPointers) {
  STRATA_REQUIRE_GPU();
  std::mt19937 rng(33);
  for (const DType dtype : {DType::f32, DType::bf16, DType::f16}) {
    const Twin src = make_source(dtype, 1025, rng);
    const Twin dst = testing::make_output({1025}, rng);
    kernels::copy_to_f32(src.cpu().slice(1, 1025), dst.cpu().slice(1, 1025), cpu_exec());
    kernels::copy_to_f32(src.gpu().slice(1, 1025), dst.gpu().slice(1, 1025), testing::gpu_exec());
    testing::expect_identical(dst, "copy_to_f32, misaligned");
  }
}

TEST(CudaCopy, EmptyAndMismatched) {
  STRATA_REQUIRE_GPU();
  std::mt19937 rng(34);
  const Twin empty_src = make_source(DType::bf16, 0, rng);
  const Twin empty_dst = testing::make_output({0}, rng);
  kernels::copy_to_f32(empty_src.gpu(), empty_dst.gpu(), testing::gpu_exec());
  testing::gpu()->synchronize();
  EXPECT_NO_THROW(cuda::check_last_error("empty copy"));
  const Twin src = make_source(DType::bf16, 8, rng);
  const Twin dst = testing::make_output({7}, rng);
  EXPECT_THROW(kernels::copy_to_f32(src.gpu(), dst.gpu(), testing::gpu_exec()), Error);
  const Twin bf16_dst = make_source(DType::bf16, 8, rng);
  EXPECT_THROW(kernels::copy_to_f32(src.gpu(), bf16_dst.gpu(), testing::gpu_exec()), Error);
}

}  // namespace
}  // namespace strata
