// The CUDA runtime seam: device memory round trips, pinned host memory, the workspace's host arena.
#include <gtest/gtest.h>

#include "cuda_test_support.h"
#include "strata/core/error.h"
#include "strata/core/workspace.h"

namespace strata {
namespace {

TEST(CudaContext, BufferRoundTripsThroughTheDevice) {
  STRATA_REQUIRE_GPU();
  std::vector<float> host(1000);
  std::mt19937 rng(1);
  testing::fill_uniform(host, rng);
  Buffer device(host.size() * sizeof(float), Device::cuda);
  EXPECT_EQ(device.device(), Device::cuda);
  EXPECT_EQ(device.view(DType::f32, {1000}).device, Device::cuda);
  cuda::copy(device.data(), host.data(), host.size() * sizeof(float));
  std::vector<float> back(host.size(), -1.0f);
  cuda::copy(back.data(), device.data(), back.size() * sizeof(float));
  EXPECT_EQ(back, host);
}

TEST(CudaContext, NewDeviceBuffersAreZero) {
  STRATA_REQUIRE_GPU();
  Buffer device(4096, Device::cuda);
  std::vector<uint8_t> back(4096, 0xff);
  cuda::copy(back.data(), device.data(), back.size());
  EXPECT_TRUE(std::all_of(back.begin(), back.end(), [](uint8_t b) { return b == 0; }));
}

TEST(CudaContext, GpuWorkspaceHasAPinnedHostArenaScopedWithIt) {
  STRATA_REQUIRE_GPU();
  Workspace workspace(1 << 20, Device::cuda);
  EXPECT_EQ(workspace.take(DType::f32, {16}).device, Device::cuda);
  void* first = nullptr;
  {
    const Workspace::Scope scope(workspace);
    first = workspace.take_host_bytes(100);
    std::memset(first, 7, 100);
  }
  EXPECT_EQ(workspace.take_host_bytes(100), first);  // the scope gave it back
  Tensor host = workspace.take_host(DType::i64, {4});
  EXPECT_EQ(host.device, Device::cpu);
}

TEST(CudaContext, AnAbsurdAllocationFailsWithTheSizeInTheMessage) {
  STRATA_REQUIRE_GPU();
  try {
    Buffer too_big(size_t{1} << 50, Device::cuda);
    FAIL() << "a petabyte allocation succeeded";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("out of GPU memory"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace strata
