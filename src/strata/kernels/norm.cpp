#include "strata/kernels/norm.h"

#include "strata/kernels/cpu/rms_norm.h"
#include "strata/kernels/dispatch.h"

namespace strata::kernels {

void gated_rms_norm(const GatedRmsNormParams& params, const Tensor& y, const Tensor& z, const Tensor& weight,
                    const Tensor& out, const Exec& exec) {
  detail::device_for("gated_rms_norm", exec, {&y, &z, &weight, &out});
  cpu::gated_rms_norm(params, y, z, weight, out, exec.pool());
}

void rms_norm(const RmsNormParams& params, const Tensor& x, const Tensor& weight, const Tensor& out,
              const Exec& exec) {
  detail::device_for("rms_norm", exec, {&x, &weight, &out});
  cpu::rms_norm(params, x, weight, out, exec.pool());
}

}  // namespace strata::kernels
