// cuBLAS loaded on first use (core/cublas_api.h): every function strata calls resolves from the libraries
// the build's toolkit ships, with or without a GPU (loading needs no device), and a process that never
// asks for them does not map them (the point: ~210 MiB of resident memory for CPU-only runs).
#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "strata/core/cublas_api.h"

namespace strata {
namespace {

#if STRATA_HAVE_CUDA

bool mapped(const char* library) {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line))
    if (line.find(library) != std::string::npos) return true;
  return false;
}

TEST(CublasApi, NotMappedUntilAskedThenEveryFunctionResolves) {
  EXPECT_FALSE(mapped("libcublasLt.so")) << "linked, or loaded by something else before its first use";
  const cuda::CublasApi& api = cuda::cublas_api();
#define STRATA_EXPECT_LOADED(name) EXPECT_NE(reinterpret_cast<const void*>(api.name), nullptr) << #name;
  STRATA_CUBLAS_FUNCTIONS(STRATA_EXPECT_LOADED)
  STRATA_EXPECT_LOADED(cublasGemmEx)
#undef STRATA_EXPECT_LOADED
  EXPECT_TRUE(mapped("libcublasLt.so"));
  EXPECT_STREQ(api.cublasGetStatusString(CUBLAS_STATUS_SUCCESS), "success");  // a real call through the table
}

#else

TEST(CublasApi, NotBuilt) { GTEST_SKIP() << "built without the CUDA backend"; }

#endif

}  // namespace
}  // namespace strata
