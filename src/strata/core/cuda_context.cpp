#include "strata/core/cuda_context.h"

#include "strata/core/error.h"

#if STRATA_HAVE_CUDA
#include <cublasLt.h>
#include <cublas_v2.h>

#include "strata/core/cublas_api.h"
#include <cuda_runtime_api.h>
#endif

namespace strata {

#if STRATA_HAVE_CUDA

namespace {
void check_cublas(cublasStatus_t status, const char* what) {
  if (status != CUBLAS_STATUS_SUCCESS) fail("cuBLAS: {} failed: {}", what, strata::cuda::cublas_api().cublasGetStatusString(status));
}

// Each library's workspace: NVIDIA recommends 32 MiB on Hopper. Fixed at construction so no GEMM
// allocates one lazily (an allocation inside stream capture breaks the capture).
constexpr size_t kCublasWorkspaceBytes = size_t{32} << 20;
}  // namespace

CudaContext::CudaContext(int device_index) : device_(device_index) {
  cuda::set_device(device_index);
  info_ = cuda::device_info(device_index);
  // A blocking stream: the cache's synchronous copies between steps (legacy default stream) then order
  // after the step's kernels without explicit synchronisation.
  cudaStream_t stream = nullptr;
  if (cudaStreamCreateWithFlags(&stream, cudaStreamDefault) != cudaSuccess) fail("CUDA: cannot create a stream on cuda:{}", device_index);
  stream_ = stream;
  cublasHandle_t handle = nullptr;
  check_cublas(strata::cuda::cublas_api().cublasCreate(&handle), "cublasCreate");
  cublas_ = handle;
  check_cublas(strata::cuda::cublas_api().cublasSetStream(handle, stream), "cublasSetStream");
  // After cublasSetStream, which resets the handle to cuBLAS's default (lazily allocated) workspace pool.
  cublas_workspace_ = Buffer(kCublasWorkspaceBytes, Device::cuda);
  check_cublas(strata::cuda::cublas_api().cublasSetWorkspace(handle, cublas_workspace_.data(), cublas_workspace_.size()), "cublasSetWorkspace");
  // Exact means exact: no TF32 inside f32 products.
  check_cublas(strata::cuda::cublas_api().cublasSetMathMode(handle, CUBLAS_PEDANTIC_MATH), "cublasSetMathMode");
  cublasLtHandle_t lt = nullptr;
  check_cublas(strata::cuda::cublas_api().cublasLtCreate(&lt), "cublasLtCreate");
  cublas_lt_ = lt;
  lt_workspace_ = Buffer(kCublasWorkspaceBytes, Device::cuda);
}

CudaContext::~CudaContext() {
  if (stream_) cudaStreamSynchronize(static_cast<cudaStream_t>(stream_));
  if (cublas_lt_) strata::cuda::cublas_api().cublasLtDestroy(static_cast<cublasLtHandle_t>(cublas_lt_));
  if (cublas_) strata::cuda::cublas_api().cublasDestroy(static_cast<cublasHandle_t>(cublas_));
  scratch_ = Buffer();
  lt_workspace_ = Buffer();
  cublas_workspace_ = Buffer();
  if (stream_) cudaStreamDestroy(static_cast<cudaStream_t>(stream_));
}

void* CudaContext::gemm_scratch(size_t bytes) {
  if (scratch_.size() >= bytes) return scratch_.data();
  if (capturing_)
    fail("CUDA graph capture: the GEMM needs {} bytes of scratch but holds {} (run the step once eagerly before capturing it)",
         bytes, scratch_.size());
  synchronize();  // the old scratch may still be read by queued work
  scratch_ = Buffer(std::max(bytes, 2 * scratch_.size()), Device::cuda);
  return scratch_.data();
}

void CudaContext::synchronize() const { cuda::synchronize(stream_); }

#else

CudaContext::CudaContext(int) {
  fail("--device cuda: this build of strata has no CUDA backend (rebuild with nvcc installed and STRATA_CUDA=auto|on)");
}
CudaContext::~CudaContext() = default;
void* CudaContext::gemm_scratch(size_t) { return nullptr; }
void CudaContext::synchronize() const {}

#endif

}  // namespace strata
