// Exec: where and how a kernel runs — the execution context every neutral kernel (kernels/<op>.h)
// takes. On the CPU it is the thread pool; on CUDA it will carry the stream and library handles.
// Cheap to copy; it owns nothing. A CPU Exec converts implicitly from a ThreadPool& so CPU callers
// (tests, benches) pass their pool as before.
#pragma once

#include "strata/core/tensor.h"
#include "strata/core/thread_pool.h"

namespace strata {

class Exec {
 public:
  Exec(ThreadPool& pool) : device_(Device::cpu), pool_(&pool) {}  // NOLINT: implicit on purpose

  Device device() const { return device_; }
  // The CPU worker pool. Only meaningful when device() == Device::cpu.
  ThreadPool& pool() const { return *pool_; }
  int threads() const { return pool_ ? pool_->size() : 1; }

 private:
  Device device_;
  ThreadPool* pool_ = nullptr;
};

}  // namespace strata
