#include "strata/kernels/dispatch.h"

#include "strata/core/error.h"

namespace strata::kernels::detail {

void refuse_device(const char* op, Device device) {
  fail("{}: no {} implementation in this build of strata{}; run on the cpu", op, device_name(device),
       STRATA_HAVE_CUDA ? "" : " (it was built without the CUDA backend)");
}

void refuse_mismatch(const char* op, Device tensor_device, Device exec_device) {
  fail("{}: a {} tensor was given to a call running on the {}; every operand must live on the device of the call",
       op, device_name(tensor_device), device_name(exec_device));
}

}  // namespace strata::kernels::detail
