#include "strata/core/cuda_runtime.h"

#include "strata/core/error.h"

#if STRATA_HAVE_CUDA
#include <cuda_runtime_api.h>
#endif

namespace strata::cuda {

#if STRATA_HAVE_CUDA

namespace {
void check(cudaError_t status, const char* what) {
  if (status != cudaSuccess) fail("CUDA: {} failed: {} ({})", what, cudaGetErrorString(status), cudaGetErrorName(status));
}
}  // namespace

bool built() { return true; }

int device_count() {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky "no device" / "no driver" error
    return 0;
  }
  return count;
}

std::string unavailable_reason() {
  int count = 0;
  const cudaError_t status = cudaGetDeviceCount(&count);
  if (status != cudaSuccess) {
    cudaGetLastError();
    return fmt::format("no usable CUDA GPU ({})", cudaGetErrorString(status));
  }
  return count == 0 ? "no CUDA GPU is visible to this process" : "";
}

void set_device(int index) {
  const int count = device_count();
  if (index < 0 || index >= count)
    fail("cuda:{} does not exist: this process sees {} CUDA GPU(s){}", index, count,
         count == 0 ? " (" + unavailable_reason() + ")" : "");
  check(cudaSetDevice(index), "cudaSetDevice");
}

int current_device() {
  int index = 0;
  check(cudaGetDevice(&index), "cudaGetDevice");
  return index;
}

DeviceInfo device_info(int index) {
  cudaDeviceProp prop{};
  check(cudaGetDeviceProperties(&prop, index), "cudaGetDeviceProperties");
  DeviceInfo info;
  info.name = prop.name;
  info.multiprocessors = prop.multiProcessorCount;
  info.major = prop.major;
  info.minor = prop.minor;
  info.l2_bytes = static_cast<size_t>(prop.l2CacheSize);
  int previous = 0;
  check(cudaGetDevice(&previous), "cudaGetDevice");
  check(cudaSetDevice(index), "cudaSetDevice");
  check(cudaMemGetInfo(&info.free_memory, &info.total_memory), "cudaMemGetInfo");
  check(cudaSetDevice(previous), "cudaSetDevice");
  return info;
}

void* allocate(size_t bytes) {
  void* p = nullptr;
  const size_t rounded = bytes == 0 ? 256 : bytes;
  const cudaError_t status = cudaMalloc(&p, rounded);
  if (status != cudaSuccess) {
    cudaGetLastError();
    if (device_count() == 0) fail("cannot allocate GPU memory: {}", unavailable_reason());
    size_t free_bytes = 0, total = 0;
    cudaMemGetInfo(&free_bytes, &total);
    fail("out of GPU memory: cannot allocate {:.1f} MiB on cuda:{} ({:.1f} of {:.1f} MiB free): {}",
         static_cast<double>(bytes) / (1 << 20), current_device(), static_cast<double>(free_bytes) / (1 << 20),
         static_cast<double>(total) / (1 << 20), cudaGetErrorString(status));
  }
  check(cudaMemset(p, 0, rounded), "cudaMemset");
  return p;
}

void release(void* pointer) {
  if (pointer) cudaFree(pointer);  // never throws from a destructor
}

void pin(void* pointer, size_t bytes) { check(cudaHostRegister(pointer, bytes, cudaHostRegisterDefault), "cudaHostRegister"); }
void unpin(void* pointer) {
  if (pointer) cudaHostUnregister(pointer);
}

void copy_async(void* destination, const void* source, size_t bytes, void* stream) {
  if (bytes == 0) return;
  check(cudaMemcpyAsync(destination, source, bytes, cudaMemcpyDefault, static_cast<cudaStream_t>(stream)),
        "cudaMemcpyAsync");
}

void copy(void* destination, const void* source, size_t bytes) {
  if (bytes == 0) return;
  check(cudaMemcpy(destination, source, bytes, cudaMemcpyDefault), "cudaMemcpy");
}

void zero_async(void* destination, size_t bytes, void* stream) {
  if (bytes == 0) return;
  check(cudaMemsetAsync(destination, 0, bytes, static_cast<cudaStream_t>(stream)), "cudaMemsetAsync");
}

void synchronize(void* stream) { check(cudaStreamSynchronize(static_cast<cudaStream_t>(stream)), "cudaStreamSynchronize"); }

void check_last_error(const char* what) { check(cudaGetLastError(), what); }

#else  // no CUDA backend in this build

namespace {
[[noreturn]] void absent(const char* what) {
  fail("{}: this build of strata has no CUDA backend (rebuild with nvcc installed and STRATA_CUDA=auto|on)", what);
}
}  // namespace

bool built() { return false; }
int device_count() { return 0; }
std::string unavailable_reason() { return "this build of strata has no CUDA backend"; }
void set_device(int) { absent("cuda device"); }
int current_device() { absent("cuda device"); }
DeviceInfo device_info(int) { absent("cuda device"); }
void* allocate(size_t) { absent("GPU memory"); }
void release(void*) {}
void pin(void*, size_t) { absent("pinned memory"); }
void unpin(void*) {}
void copy_async(void*, const void*, size_t, void*) { absent("GPU copy"); }
void copy(void*, const void*, size_t) { absent("GPU copy"); }
void zero_async(void*, size_t, void*) { absent("GPU memset"); }
void synchronize(void*) {}
void check_last_error(const char*) {}

#endif

}  // namespace strata::cuda
