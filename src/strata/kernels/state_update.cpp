#include "strata/kernels/state_update.h"

#include "strata/core/error.h"
#include "strata/kernels/cpu/state_update.h"
#include "strata/kernels/dispatch.h"
#if STRATA_HAVE_CUDA
#include "strata/kernels/cuda/state_update.h"
#endif

namespace strata::kernels {
namespace {

// CUDA kernels read the batch metadata from its device mirrors only, and the grid is one block per
// (sequence, head, 16 rows of P).
[[maybe_unused]] void require_cuda_batch(const SelectiveStateUpdateParams& params, const VarlenBatch& batch) {
  if (batch.num_sequences() > 0 && (batch.device.cu_seqlens == nullptr || batch.device.slots == nullptr ||
                                    batch.device.has_initial_state == nullptr))
    fail("selective_state_update: a CUDA call needs the VarlenBatch's device arrays (batch.device)");
  const int64_t blocks = batch.num_sequences() * params.n_heads * ((params.head_dim + 15) / 16);
  if (blocks >= (int64_t{1} << 31))
    fail("selective_state_update: {} sequences x {} heads exceed the CUDA grid", batch.num_sequences(), params.n_heads);
}

}  // namespace

void selective_state_update(const SelectiveStateUpdateParams& params,
                            const SelectiveStateUpdateInputs& inputs,
                            const SelectiveStateUpdateWeights& weights, const VarlenBatch& batch,
                            const Tensor& ssm_state, const Tensor& intermediate, const Tensor& y,
                            const Exec& exec) {
  if (detail::device_of("selective_state_update", exec,
                        {&inputs.x, &inputs.dt, &inputs.B, &inputs.C, &weights.A, &weights.D, &weights.dt_bias,
                         &ssm_state, &intermediate, &y}) == Device::cuda) {
#if STRATA_HAVE_CUDA
    require_cuda_batch(params, batch);
    return cuda::selective_state_update(params, inputs, weights, batch, ssm_state, intermediate, y, exec);
#endif
  }
  cpu::selective_state_update(params, inputs, weights, batch, ssm_state, intermediate, y, exec.pool());
}

}  // namespace strata::kernels
