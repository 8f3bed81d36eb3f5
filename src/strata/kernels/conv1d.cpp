#include "strata/kernels/conv1d.h"

#include "strata/core/error.h"
#include "strata/kernels/cpu/conv1d.h"
#include "strata/kernels/dispatch.h"
#if STRATA_HAVE_CUDA
#include "strata/kernels/cuda/conv1d.h"
#endif

namespace strata::kernels {
namespace {

// CUDA kernels read the batch metadata from its device mirrors only.
[[maybe_unused]] void require_device_batch(const char* op, const VarlenBatch& batch) {
  if (batch.num_sequences() > 0 && (batch.device.cu_seqlens == nullptr || batch.device.slots == nullptr ||
                                    batch.device.has_initial_state == nullptr))
    fail("{}: a CUDA call needs the VarlenBatch's device arrays (batch.device)", op);
}

}  // namespace

void causal_conv1d_prefill(const CausalConv1dParams& params, const Tensor& x, const Tensor& weight,
                           const Tensor& bias, const VarlenBatch& batch, const Tensor& conv_state,
                           const Tensor& out, const Exec& exec) {
  if (detail::device_of("causal_conv1d_prefill", exec, {&x, &weight, &bias, &conv_state, &out}) == Device::cuda) {
#if STRATA_HAVE_CUDA
    require_device_batch("causal_conv1d_prefill", batch);
    return cuda::causal_conv1d_prefill(params, x, weight, bias, batch, conv_state, out, exec);
#endif
  }
  cpu::causal_conv1d_prefill(params, x, weight, bias, batch, conv_state, out, exec.pool());
}

void causal_conv1d_decode(const CausalConv1dParams& params, const Tensor& x, const Tensor& weight,
                          const Tensor& bias, const VarlenBatch& batch, const Tensor& conv_state,
                          const Tensor& intermediate, const Tensor& out, const Exec& exec) {
  if (detail::device_of("causal_conv1d_decode", exec, {&x, &weight, &bias, &conv_state, &intermediate, &out}) ==
      Device::cuda) {
#if STRATA_HAVE_CUDA
    require_device_batch("causal_conv1d_decode", batch);
    return cuda::causal_conv1d_decode(params, x, weight, bias, batch, conv_state, intermediate, out, exec);
#endif
  }
  cpu::causal_conv1d_decode(params, x, weight, bias, batch, conv_state, intermediate, out, exec.pool());
}

}  // namespace strata::kernels
