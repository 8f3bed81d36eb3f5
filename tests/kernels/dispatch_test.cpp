// The neutral kernels' one dispatch point: CPU tensors run on kernels::cpu through a CPU Exec; a CUDA
// tensor on a CPU Exec is refused with an error that names the op and the device, and a CUDA buffer
// needs the backend and a GPU.
#include <algorithm>
#include <cctype>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "strata/core/cuda_runtime.h"
#include "strata/core/error.h"
#include "strata/core/exec.h"
#include "strata/core/thread_pool.h"
#include "strata/kernels/embedding.h"
#include "strata/kernels/gemm.h"
#include "strata/kernels/norm.h"

namespace strata::kernels {
namespace {

std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "<no error>";
}

TEST(Dispatch, CpuTensorsRunThroughTheNeutralEntryPoint) {
  ThreadPool pool(1);
  const Exec exec(pool);
  std::vector<float> x = {3.0f, 4.0f}, w = {1.0f, 1.0f}, y(2);
  const Tensor xt = Tensor::contiguous(x.data(), DType::f32, {1, 2});
  const Tensor wt = Tensor::contiguous(w.data(), DType::f32, {2});
  const Tensor yt = Tensor::contiguous(y.data(), DType::f32, {1, 2});
  rms_norm(RmsNormParams{.eps = 0.0f}, xt, wt, yt, exec);
  EXPECT_NEAR(y[0], 3.0f / std::sqrt(12.5f), 1e-6);
  EXPECT_NEAR(y[1], 4.0f / std::sqrt(12.5f), 1e-6);
}

TEST(Dispatch, CudaTensorsAreRefusedNamingOpAndDevice) {
  ThreadPool pool(1);
  const Exec exec(pool);
  std::vector<float> x(4), w(4), y(4);
  Tensor xt = Tensor::contiguous(x.data(), DType::f32, {2, 2});
  const Tensor wt = Tensor::contiguous(w.data(), DType::f32, {2, 2});
  Tensor yt = Tensor::contiguous(y.data(), DType::f32, {2, 2});
  xt.device = Device::cuda;
  const std::string gemm_error = error_of([&] { gemm(xt, wt, yt, GemmParams{}, exec); });
  EXPECT_NE(gemm_error.find("gemm"), std::string::npos) << gemm_error;
  EXPECT_NE(gemm_error.find("cuda"), std::string::npos) << gemm_error;
  const std::string check_error = error_of([&] { check_gemm(xt, wt, yt, GemmParams{}); });
  EXPECT_NE(check_error.find("cuda"), std::string::npos) << check_error;
  std::vector<int32_t> ids = {0, 1};
  Tensor idt = Tensor::contiguous(ids.data(), DType::i32, {2});
  idt.device = Device::cuda;
  const std::string gather_error = error_of([&] { embedding_gather(wt, idt, yt, exec); });
  EXPECT_NE(gather_error.find("embedding_gather"), std::string::npos) << gather_error;
  EXPECT_EQ(y, std::vector<float>(4, 0.0f));  // nothing ran
}

TEST(Dispatch, CudaBuffersNeedTheBackendAndAGpu) {
  if (cuda::device_count() > 0) {
    const Buffer device(1024, Device::cuda);
    EXPECT_EQ(device.device(), Device::cuda);
  } else {
    // Without the backend, or with it but no GPU, the error names CUDA and why.
    std::string e = error_of([] { Buffer b(1024, Device::cuda); });
    std::transform(e.begin(), e.end(), e.begin(), [](unsigned char c) { return std::tolower(c); });
    EXPECT_NE(e.find("cuda"), std::string::npos) << e;
  }
  const Buffer host(64);
  EXPECT_EQ(host.device(), Device::cpu);
  EXPECT_EQ(host.view(DType::f32, {16}).device, Device::cpu);
}

}  // namespace
}  // namespace strata::kernels
