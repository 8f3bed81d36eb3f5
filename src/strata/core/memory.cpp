#include "strata/core/memory.h"

#include <cstring>

#include "strata/core/cuda_runtime.h"

namespace strata {

void copy_memory(void* destination, const void* source, size_t bytes, Device device) {
  if (bytes == 0) return;
  if (device == Device::cpu) {
    std::memcpy(destination, source, bytes);
    return;
  }
  cuda::copy(destination, source, bytes);
}

void zero_memory(void* destination, size_t bytes, Device device) {
  if (bytes == 0) return;
  if (device == Device::cpu) {
    std::memset(destination, 0, bytes);
    return;
  }
  cuda::zero_async(destination, bytes, nullptr);
  cuda::synchronize(nullptr);
}

}  // namespace strata
