#include "strata/kernels/activations.h"

#include "strata/kernels/cpu/ffn_activations.h"
#include "strata/kernels/dispatch.h"

namespace strata::kernels {

const char* ffn_activation_name(FfnActivation activation) {
  switch (activation) {
    case FfnActivation::relu2: return "relu2";
    case FfnActivation::silu_gated: return "silu_gated";
    case FfnActivation::gelu_gated: return "gelu_gated";
    case FfnActivation::gelu: return "gelu";
  }
  return "?";
}

void ffn_activation(FfnActivation activation, const Tensor& h, const Tensor& gate, const Exec& exec) {
  detail::device_for("ffn_activation", exec, {&h, &gate});
  cpu::ffn_activation(activation, h, gate, exec.pool());
}

}  // namespace strata::kernels
