// CudaContext: one GPU as a kernel sees it — the device index, the stream every kernel of a step runs on,
// the cuBLAS / cuBLASLt handles, and the GEMM's staging memory (bf16 copies of activations, cuBLASLt's
// workspace). Made once per process and device (by the CLI or a test), handed to kernels through an Exec.
// Plain C++: the handles are opaque here and cast where CUDA headers are included.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "strata/core/cuda_runtime.h"
#include "strata/core/tensor.h"

namespace strata {

class CudaContext {
 public:
  // Opens cuda:`device_index` (makes it current, creates a stream and the library handles). Throws
  // strata::Error when the build has no CUDA backend or the device does not exist.
  explicit CudaContext(int device_index = 0);
  ~CudaContext();
  CudaContext(const CudaContext&) = delete;
  CudaContext& operator=(const CudaContext&) = delete;

  int device() const { return device_; }
  void* stream() const { return stream_; }
  void* cublas() const { return cublas_; }
  void* cublas_lt() const { return cublas_lt_; }
  // cuBLASLt's fixed workspace, passed to every cublasLtMatmul (cuBLAS's own is set on its handle):
  // allocated at construction, so no GEMM allocates lazily, which would break stream capture.
  void* cublas_lt_workspace() const { return lt_workspace_.data(); }
  size_t cublas_lt_workspace_bytes() const { return lt_workspace_.size(); }
  const cuda::DeviceInfo& info() const { return info_; }

  // Device scratch of at least `bytes` for the GEMM (bf16/f16 copies of activations). Grows by
  // reallocating, which synchronises: a step captured in a CUDA graph must have run once eagerly at
  // its shape first, so the scratch is already large enough during capture.
  void* gemm_scratch(size_t bytes);
  // True between begin_capture() and end_capture(): growth is then an error, not an allocation.
  bool capturing() const { return capturing_; }
  void set_capturing(bool capturing) { capturing_ = capturing; }

  // Where the fast path (16-bit weights) trades precision for speed. Work of up to this many token rows
  // stays near f32: a GEMM splits its f32 activations into two bf16 halves (free while the weight stream
  // bounds it), an SSD scan multiplies in f32. Larger work — prefill — rounds GEMM activations to bf16
  // once and takes the SSD's products on the tensor cores in bf16, as bf16 engines do. Tests move it to
  // reach either path. 128: a GEMM of that many rows is still mostly a weight stream, so splitting
  // costs little, and prompts of a chat turn's length stay near f32.
  int64_t precise_max_rows() const { return precise_max_rows_; }
  void set_precise_max_rows(int64_t rows) { precise_max_rows_ = rows; }

  void synchronize() const;

 private:
  int device_ = 0;
  void* stream_ = nullptr;
  void* cublas_ = nullptr;
  void* cublas_lt_ = nullptr;
  cuda::DeviceInfo info_;
  Buffer cublas_workspace_, lt_workspace_;
  Buffer scratch_;
  bool capturing_ = false;
  int64_t precise_max_rows_ = 128;
};

}  // namespace strata
