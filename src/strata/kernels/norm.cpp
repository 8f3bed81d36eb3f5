#include "strata/kernels/norm.h"

#include "strata/kernels/cpu/rms_norm.h"
#include "strata/kernels/dispatch.h"
#if STRATA_HAVE_CUDA
#include "strata/kernels/cuda/norm.h"
#endif

namespace strata::kernels {

void gated_rms_norm(const GatedRmsNormParams& params, const Tensor& y, const Tensor& z, const Tensor& weight,
                    const Tensor& out, const Exec& exec) {
  if (detail::device_of("gated_rms_norm", exec, {&y, &z, &weight, &out}) == Device::cuda) {
#if STRATA_HAVE_CUDA
    return cuda::gated_rms_norm(params, y, z, weight, out, exec);
#endif
  }
  cpu::gated_rms_norm(params, y, z, weight, out, exec.pool());
}

void rms_norm(const RmsNormParams& params, const Tensor& x, const Tensor& weight, const Tensor& out,
              const Exec& exec) {
  if (detail::device_of("rms_norm", exec, {&x, &weight, &out}) == Device::cuda) {
#if STRATA_HAVE_CUDA
    return cuda::rms_norm(params, x, weight, out, exec);
#endif
  }
  cpu::rms_norm(params, x, weight, out, exec.pool());
}

}  // namespace strata::kernels
