#include "strata/kernels/state_update.h"

#include "strata/kernels/cpu/state_update.h"
#include "strata/kernels/dispatch.h"

namespace strata::kernels {

void selective_state_update(const SelectiveStateUpdateParams& params,
                            const SelectiveStateUpdateInputs& inputs,
                            const SelectiveStateUpdateWeights& weights, const VarlenBatch& batch,
                            const Tensor& ssm_state, const Tensor& intermediate, const Tensor& y,
                            const Exec& exec) {
  detail::device_for("selective_state_update", exec,
                     {&inputs.x, &inputs.dt, &inputs.B, &inputs.C, &ssm_state, &intermediate, &y});
  cpu::selective_state_update(params, inputs, weights, batch, ssm_state, intermediate, y, exec.pool());
}

}  // namespace strata::kernels
