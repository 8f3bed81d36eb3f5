// The CUDA runtime as the rest of strata sees it: whether this build has the backend, how many GPUs the
// process sees, device memory, host<->device copies and the one error check. Plain C++ (no CUDA headers),
// so every module can include it; without the backend every call that needs a GPU throws strata::Error
// saying so, and device_count() is 0.
#pragma once

#include <cstddef>
#include <string>

namespace strata::cuda {

// True when this build compiled the CUDA backend (nvcc was found; STRATA_CUDA not off).
bool built();
// GPUs this process can use: 0 without the backend, without a driver or without a device.
int device_count();
// Why device_count() is 0 ("this build has no CUDA backend", the driver's error, ...), for messages.
std::string unavailable_reason();

struct DeviceInfo {
  std::string name;
  size_t total_memory = 0, free_memory = 0;
  int multiprocessors = 0;
  int major = 0, minor = 0;  // compute capability
  size_t l2_bytes = 0;
};
// Makes `index` the calling thread's current device; throws when it does not exist.
void set_device(int index);
int current_device();
DeviceInfo device_info(int index);

// cudaMalloc'ed, zero-filled device memory (never managed memory). Throws strata::Error naming the size
// and what is free when the device cannot hold it.
void* allocate(size_t bytes);
void release(void* pointer);
// Page-locks host memory so copies from it are asynchronous and can be captured in CUDA graphs.
void pin(void* pointer, size_t bytes);
void unpin(void* pointer);

// Copies between any two of host and device memory (the runtime infers the direction) on `stream`
// (nullptr = the legacy default stream), asynchronously; synchronous copy() waits for it to land.
void copy_async(void* destination, const void* source, size_t bytes, void* stream);
void copy(void* destination, const void* source, size_t bytes);
void zero_async(void* destination, size_t bytes, void* stream);
void synchronize(void* stream);
// Throws strata::Error if the last launch on this thread failed (a bad launch, an earlier async fault).
void check_last_error(const char* what);

}  // namespace strata::cuda
