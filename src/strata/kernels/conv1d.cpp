#include "strata/kernels/conv1d.h"

#include "strata/kernels/cpu/conv1d.h"
#include "strata/kernels/dispatch.h"

namespace strata::kernels {

void causal_conv1d_prefill(const CausalConv1dParams& params, const Tensor& x, const Tensor& weight,
                           const Tensor& bias, const VarlenBatch& batch, const Tensor& conv_state,
                           const Tensor& out, const Exec& exec) {
  detail::device_for("causal_conv1d_prefill", exec, {&x, &weight, &bias, &conv_state, &out});
  cpu::causal_conv1d_prefill(params, x, weight, bias, batch, conv_state, out, exec.pool());
}

void causal_conv1d_decode(const CausalConv1dParams& params, const Tensor& x, const Tensor& weight,
                          const Tensor& bias, const VarlenBatch& batch, const Tensor& conv_state,
                          const Tensor& intermediate, const Tensor& out, const Exec& exec) {
  detail::device_for("causal_conv1d_decode", exec, {&x, &weight, &bias, &conv_state, &intermediate, &out});
  cpu::causal_conv1d_decode(params, x, weight, bias, batch, conv_state, intermediate, out, exec.pool());
}

}  // namespace strata::kernels
