#include "strata/kernels/gemm.h"

#include "strata/kernels/cpu/gemm.h"
#include "strata/kernels/dispatch.h"
#if STRATA_HAVE_CUDA
#include "strata/kernels/cuda/gemm.h"
#endif

namespace strata::kernels {

// One check for both devices (cpu::check_gemm reads shapes and strides only).
void check_gemm(const Tensor& x, const Tensor& weight, const Tensor& y, const GemmParams& params) {
  cpu::check_gemm(x, weight, y, params);
}

void gemm(const Tensor& x, const Tensor& weight, Tensor& y, const GemmParams& params, const Exec& exec) {
  if (detail::device_of("gemm", exec, {&x, &weight, &y, params.bias}) == Device::cuda) {
#if STRATA_HAVE_CUDA
    return cuda::gemm(x, weight, y, params, exec);
#endif
  }
  cpu::gemm(x, weight, y, params, exec.pool());
}

}  // namespace strata::kernels
