// The one dispatch point of the neutral kernels: a call runs on its Exec's device, and every tensor it
// touches must live there. CPU calls go to kernels::cpu, CUDA calls to kernels::cuda (kernels/cuda/,
// built when STRATA_HAVE_CUDA). An op without a CUDA twin refuses CUDA tensors with a clear error.
#pragma once

#include <initializer_list>

#include "strata/core/exec.h"
#include "strata/core/tensor.h"

namespace strata::kernels::detail {

// Throws strata::Error: `op` has no implementation on `device` in this build.
[[noreturn]] void refuse_device(const char* op, Device device);
// Throws strata::Error: a tensor of `op` lives on `tensor_device` but the call runs on `exec_device`.
[[noreturn]] void refuse_mismatch(const char* op, Device tensor_device, Device exec_device);

// The device the call runs on, after checking the tensors (absent ones, data == nullptr, are skipped).
// For ops with a CUDA twin: CUDA is refused only in a build without the backend.
inline Device device_of(const char* op, const Exec& exec, std::initializer_list<const Tensor*> tensors) {
  const Device device = exec.device();
  for (const Tensor* t : tensors)
    if (t != nullptr && t->data != nullptr && t->device != device) refuse_mismatch(op, t->device, device);
  if (device == Device::cuda && !STRATA_HAVE_CUDA) refuse_device(op, device);
  return device;
}

// The same for ops that run on the CPU only.
inline Device device_for(const char* op, const Exec& exec, std::initializer_list<const Tensor*> tensors) {
  const Device device = device_of(op, exec, tensors);
  if (device != Device::cpu) refuse_device(op, device);
  return device;
}

}  // namespace strata::kernels::detail
