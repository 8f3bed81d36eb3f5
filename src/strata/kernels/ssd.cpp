#include "strata/kernels/ssd.h"

#include "strata/kernels/cpu/ssd_scan.h"
#include "strata/kernels/dispatch.h"

#if STRATA_HAVE_CUDA
#include "strata/kernels/cuda/ssd.h"
#endif

namespace strata::kernels {

void ssd_scan(const SsdParams& params, const SsdInputs& inputs, const VarlenBatch& batch, Tensor ssm_states,
              Tensor y, std::span<const SsdCapture> captures, void* workspace, size_t workspace_bytes,
              const Exec& exec) {
  const Device device = detail::device_of("ssd_scan", exec,
                                          {&inputs.x, &inputs.dt, &inputs.B, &inputs.C, &inputs.A, &inputs.D,
                                           &inputs.dt_bias, &ssm_states, &y});
  for (const SsdCapture& capture : captures)
    if (capture.state.data != nullptr && capture.state.device != device)
      detail::refuse_mismatch("ssd_scan", capture.state.device, device);
  if (device == Device::cuda) {
#if STRATA_HAVE_CUDA
    return cuda::ssd_scan(params, inputs, batch, ssm_states, y, captures, workspace, workspace_bytes, exec);
#endif
  }
  cpu::ssd_scan(params, inputs, batch, ssm_states, y, captures, workspace, workspace_bytes, exec.pool());
}

}  // namespace strata::kernels
