#include "strata/kernels/activations.h"

#include "strata/core/error.h"
#include "strata/kernels/cpu/ffn_activations.h"
#include "strata/kernels/dispatch.h"
#if STRATA_HAVE_CUDA
#include "strata/kernels/cuda/activations.h"
#endif

namespace strata::kernels {
namespace {

// CUDA calls check the row layout the kernel assumes (shapes only): a violation on the device would
// fault asynchronously, far from its cause. The CPU loops trust their callers as before.
[[maybe_unused]] void require_rows(const char* name, const Tensor& t, const Tensor* like) {
  if (t.dtype != DType::f32 || t.ndim != 2 || (t.numel() > 0 && (t.stride(1) != 1 || t.data == nullptr)))
    fail("ffn_activation: {} is {}, expected f32 [rows, width] with unit column stride", name, t.describe());
  if (like != nullptr && (t.size(0) != like->size(0) || t.size(1) != like->size(1)))
    fail("ffn_activation: {} is {}, expected the shape of {}", name, t.describe(), like->describe());
}

}  // namespace

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
  if (detail::device_of("ffn_activation", exec, {&h, &gate}) == Device::cuda) {
#if STRATA_HAVE_CUDA
    require_rows("h", h, nullptr);
    if (is_gated(activation)) require_rows("gate", gate, &h);
    return cuda::ffn_activation(activation, h, gate, exec);
#endif
  }
  cpu::ffn_activation(activation, h, gate, exec.pool());
}

}  // namespace strata::kernels
