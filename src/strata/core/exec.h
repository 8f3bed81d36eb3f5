// Exec: where and how a kernel runs — the execution context every neutral kernel (kernels/<op>.h)
// takes. On the CPU it is the thread pool; on CUDA it is the CudaContext (stream and library handles).
// Cheap to copy; it owns nothing. A CPU Exec converts implicitly from a ThreadPool& so CPU callers
// (tests, benches) pass their pool as before.
#pragma once

#include "strata/core/tensor.h"
#include "strata/core/thread_pool.h"

namespace strata {

class CudaContext;

class Exec {
 public:
  Exec(ThreadPool& pool) : device_(Device::cpu), pool_(&pool) {}  // NOLINT: implicit on purpose
  // A GPU Exec; `host_pool` serves the host-side work of a step (none inside kernels).
  Exec(CudaContext& cuda, ThreadPool& host_pool) : device_(Device::cuda), pool_(&host_pool), cuda_(&cuda) {}

  Device device() const { return device_; }
  // The CPU worker pool (on a GPU Exec: the host pool).
  ThreadPool& pool() const { return *pool_; }
  int threads() const { return device_ == Device::cpu && pool_ ? pool_->size() : 1; }
  // The GPU context. Only meaningful when device() == Device::cuda.
  CudaContext& cuda() const { return *cuda_; }

 private:
  Device device_;
  ThreadPool* pool_ = nullptr;
  CudaContext* cuda_ = nullptr;
};

}  // namespace strata
