#include "strata/kernels/ssd.h"

#include "strata/kernels/cpu/ssd_scan.h"
#include "strata/kernels/dispatch.h"

namespace strata::kernels {

void ssd_scan(const SsdParams& params, const SsdInputs& inputs, const VarlenBatch& batch, Tensor ssm_states,
              Tensor y, std::span<const SsdCapture> captures, void* workspace, size_t workspace_bytes,
              const Exec& exec) {
  detail::device_for("ssd_scan", exec, {&inputs.x, &inputs.dt, &inputs.B, &inputs.C, &ssm_states, &y});
  cpu::ssd_scan(params, inputs, batch, ssm_states, y, captures, workspace, workspace_bytes, exec.pool());
}

}  // namespace strata::kernels
