#include "strata/kernels/gemm.h"

#include "strata/kernels/cpu/gemm.h"
#include "strata/kernels/dispatch.h"

namespace strata::kernels {

void check_gemm(const Tensor& x, const Tensor& weight, const Tensor& y, const GemmParams& params) {
  if (x.device == Device::cpu && weight.device == Device::cpu && y.device == Device::cpu) {
    cpu::check_gemm(x, weight, y, params);
    return;
  }
  for (const Tensor* t : {&x, &weight, &y})
    if (t->device != Device::cpu) detail::refuse_device("gemm", t->device);
}

void gemm(const Tensor& x, const Tensor& weight, Tensor& y, const GemmParams& params, const Exec& exec) {
  detail::device_for("gemm", exec, {&x, &weight, &y, params.bias});
  cpu::gemm(x, weight, y, params, exec.pool());
}

}  // namespace strata::kernels
