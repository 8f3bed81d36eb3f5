#include "strata/kernels/norm_gemm.h"

#include "strata/kernels/dispatch.h"
#if STRATA_HAVE_CUDA
#include "strata/kernels/cuda/gemm.h"
#endif

namespace strata::kernels {

void rms_norm_gemm(const RmsNormParams& norm, const Tensor& x, const Tensor& norm_weight, const Tensor& normed,
                   const Tensor& weight, Tensor& y, const GemmParams& params, const Exec& exec) {
  if (detail::device_of("rms_norm_gemm", exec, {&x, &norm_weight, &normed, &weight, &y, params.bias}) ==
      Device::cuda) {
#if STRATA_HAVE_CUDA
    if (cuda::gemm_normed(x, nullptr, false, 1, norm.eps, norm_weight, weight, y, params, exec)) return;
#endif
  }
  rms_norm(norm, x, norm_weight, normed, exec);
  gemm(normed, weight, y, params, exec);
}

void gated_rms_norm_gemm(const GatedRmsNormParams& norm, const Tensor& x, const Tensor& z,
                         const Tensor& norm_weight, const Tensor& normed, const Tensor& weight, Tensor& y,
                         const GemmParams& params, const Exec& exec) {
  if (detail::device_of("gated_rms_norm_gemm", exec, {&x, &z, &norm_weight, &normed, &weight, &y, params.bias}) ==
      Device::cuda) {
#if STRATA_HAVE_CUDA
    if (cuda::gemm_normed(x, &z, norm.norm_before_gate, norm.n_groups, norm.eps, norm_weight, weight, y, params,
                          exec))
      return;
#endif
  }
  gated_rms_norm(norm, x, z, norm_weight, normed, exec);
  gemm(normed, weight, y, params, exec);
}

}  // namespace strata::kernels
