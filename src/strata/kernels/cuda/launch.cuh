// How every strata kernel is launched: with programmatic dependent launch (PDL, Hopper), so the next
// kernel on the stream is scheduled while this one drains instead of after it — a decode step is ~400
// small kernels, and the launch gap between two of them is a large part of each one's time.
//
// The contract, for every __global__ function launched through launch_kernel():
//   its first statement is enter_kernel(), which lets the kernel after it start launching and then
//   waits until every kernel before it has finished and its writes are visible. Nothing may touch
//   global memory before it. A kernel waiting this way never sees partial results of its predecessor
//   (griddepcontrol.wait waits for the whole predecessor grid), so the order of a stream is kept;
//   only the launch latency overlaps. Kernels of other libraries (cuBLAS) launch as they always do.
//   One exception, for memory no kernel ever writes: a model's weights are uploaded with synchronous
//   copies (model/device_weights.cpp) and only read afterwards, so a kernel may start loading them between
//   start_dependents() and wait_for_predecessors() — the skinny GEMM does, which overlaps its first
//   weight stream with the tail of the kernel before it (decode is a chain of such handovers).
// STRATA_CUDA_PDL=0 in the environment launches plainly (for A/B measurements and debugging).
#pragma once

#include <cuda_runtime.h>

#include <cstdlib>
#include <cstring>
#include <utility>

namespace strata::kernels::cuda {

// The two halves of enter_kernel(), for a kernel that reads constant inputs before waiting (below).
__device__ __forceinline__ void start_dependents() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
#endif
}

__device__ __forceinline__ void wait_for_predecessors() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
}

__device__ __forceinline__ void enter_kernel() {
  start_dependents();
  wait_for_predecessors();
}

inline bool dependent_launch_enabled() {
  static const bool enabled = [] {
    const char* value = std::getenv("STRATA_CUDA_PDL");
    return value == nullptr || std::strcmp(value, "0") != 0;
  }();
  return enabled;
}

// kernel<<<grid, block, shared_bytes, stream>>>(args...), with the PDL attribute unless disabled. Errors
// surface through the caller's check_last_error as with <<<>>>.
template <typename... Params, typename... Args>
void launch_kernel(void (*kernel)(Params...), dim3 grid, dim3 block, size_t shared_bytes, cudaStream_t stream,
            Args&&... args) {
  cudaLaunchAttribute attribute{};
  attribute.id = cudaLaunchAttributeProgrammaticStreamSerialization;
  attribute.val.programmaticStreamSerializationAllowed = 1;
  cudaLaunchConfig_t config{};
  config.gridDim = grid;
  config.blockDim = block;
  config.dynamicSmemBytes = shared_bytes;
  config.stream = stream;
  config.attrs = &attribute;
  config.numAttrs = dependent_launch_enabled() ? 1 : 0;
  (void)cudaLaunchKernelEx(&config, kernel, std::forward<Args>(args)...);
}

}  // namespace strata::kernels::cuda
