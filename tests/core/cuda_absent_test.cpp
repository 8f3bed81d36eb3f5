// Without a GPU (CI) the CUDA seam must answer with clear errors, never crash.
#include <gtest/gtest.h>

#include "strata/core/cuda_context.h"
#include "strata/core/cuda_runtime.h"
#include "strata/core/error.h"

namespace strata {
namespace {

TEST(CudaAbsent, OpeningAMissingDeviceIsAClearError) {
  if (cuda::device_count() > 0) GTEST_SKIP() << "a GPU is present; this test covers machines without one";
  EXPECT_FALSE(cuda::unavailable_reason().empty());
  try {
    CudaContext context(0);
    FAIL() << "a CUDA context opened without a GPU";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_TRUE(message.find("cuda:0 does not exist") != std::string::npos ||
                message.find("no CUDA backend") != std::string::npos)
        << message;
  }
}

TEST(CudaAbsent, DeviceBuffersAreRefusedWithAMessage) {
  if (cuda::device_count() > 0) GTEST_SKIP() << "a GPU is present; this test covers machines without one";
  EXPECT_THROW(Buffer(64, Device::cuda), Error);
}

}  // namespace
}  // namespace strata
