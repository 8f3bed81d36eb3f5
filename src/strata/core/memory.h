// copy_memory / zero_memory: byte copies and clears that work on host and GPU memory alike, for the
// code that moves state between steps (the cache's reset, fork, rollback, snapshots). Synchronous: when
// they return the bytes are in place. Never used inside a step (kernels use their stream).
#pragma once

#include <cstddef>

#include "strata/core/tensor.h"

namespace strata {

// Copies `bytes` from `source` to `destination`; either may be host or device memory of `device`
// (Device::cpu: both on the host, a plain memcpy).
void copy_memory(void* destination, const void* source, size_t bytes, Device device);
void zero_memory(void* destination, size_t bytes, Device device);

}  // namespace strata
