// cuBLAS and cuBLASLt, loaded on first use (dlopen) rather than linked: a linked libcublasLt alone costs
// ~210 MiB of resident memory at process start (measured: a C program that only links it peaks at 211 MiB;
// strata --version 220 MiB against 12 MiB without the CUDA backend), which every CPU-only run of a
// CUDA-enabled build paid. Only a CudaContext calls cublas_api(), so CPU runs never load them.
// The table's members are the cuBLAS functions strata calls, typed from cuBLAS's own headers (the _v2
// names where cublas_v2.h maps them), so a call through it is checked exactly like a direct call.
#pragma once

#if STRATA_HAVE_CUDA

#include <cublasLt.h>
#include <cublas_v2.h>

namespace strata::cuda {

#define STRATA_CUBLAS_FUNCTIONS(X)                                                                        \
  X(cublasCreate) X(cublasDestroy) X(cublasSetStream) X(cublasSetWorkspace) X(cublasSetMathMode)          \
  X(cublasGetStatusString) X(cublasSgemm) X(cublasLtCreate) X(cublasLtDestroy)             \
  X(cublasLtMatmulDescCreate) X(cublasLtMatmulDescDestroy) X(cublasLtMatmulDescSetAttribute)               \
  X(cublasLtMatrixLayoutCreate) X(cublasLtMatrixLayoutDestroy) X(cublasLtMatmulPreferenceCreate)          \
  X(cublasLtMatmulPreferenceDestroy) X(cublasLtMatmulPreferenceSetAttribute)                               \
  X(cublasLtMatmulAlgoGetHeuristic) X(cublasLtMatmul)

struct CublasApi {
#define STRATA_CUBLAS_MEMBER(name) decltype(&::name) name = nullptr;
  STRATA_CUBLAS_FUNCTIONS(STRATA_CUBLAS_MEMBER)
#undef STRATA_CUBLAS_MEMBER
  // cublasGemmEx has a C++ inline overload (the legacy cudaDataType compute type), so its exported form
  // is named by its type.
  cublasStatus_t (*cublasGemmEx)(cublasHandle_t, cublasOperation_t, cublasOperation_t, int, int, int, const void*,
                                 const void*, cudaDataType, int, const void*, cudaDataType, int, const void*, void*,
                                 cudaDataType, int, cublasComputeType_t, cublasGemmAlgo_t) = nullptr;
};

// The table, loading libcublas.so.N and libcublasLt.so.N (N: the major version compiled against) on the
// first call: by soname through the executable's run path and LD_LIBRARY_PATH, then from the toolkit's
// library directory of the build. Throws strata::Error naming the library and dlerror() when it cannot.
const CublasApi& cublas_api();

}  // namespace strata::cuda

#endif  // STRATA_HAVE_CUDA
