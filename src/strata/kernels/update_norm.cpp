#include "strata/kernels/update_norm.h"

#include <cstdlib>
#include <string_view>

#if STRATA_HAVE_CUDA
#include "strata/kernels/cuda/state_update.h"
#endif

namespace strata::kernels {

namespace {

// STRATA_CUDA_FUSE_UPDATE_NORM=0 in the environment runs the two kernels apart (A/B measurements).
[[maybe_unused]] bool fusion_enabled() {
  static const bool enabled = [] {
    const char* value = std::getenv("STRATA_CUDA_FUSE_UPDATE_NORM");
    return value == nullptr || std::string_view(value) != "0";
  }();
  return enabled;
}

}  // namespace

void selective_state_update_normed(const SelectiveStateUpdateParams& params,
                                   const SelectiveStateUpdateInputs& inputs,
                                   const SelectiveStateUpdateWeights& weights, const VarlenBatch& batch,
                                   const Tensor& ssm_state, const Tensor& y, const GatedRmsNormParams& norm,
                                   const Tensor& z, const Tensor& norm_weight, const Tensor& normed,
                                   const Exec& exec) {
#if STRATA_HAVE_CUDA
  // Only where every operand is on the GPU and the batch has its device arrays (the neutral entries
  // below check and explain everything else).
  const bool all_on_gpu = exec.device() == Device::cuda && y.device == Device::cuda && z.device == Device::cuda &&
                          norm_weight.device == Device::cuda && normed.device == Device::cuda &&
                          ssm_state.device == Device::cuda && batch.device.cu_seqlens != nullptr &&
                          batch.device.slots != nullptr && batch.device.has_initial_state != nullptr;
  if (all_on_gpu && fusion_enabled()) {
    check_selective_state_update(params, inputs, weights, batch, ssm_state, Tensor{}, y);
    check_gated_rms_norm(norm, y, z, norm_weight, normed);
  }
  if (all_on_gpu && fusion_enabled() &&
      cuda::selective_state_update_normed(params, inputs, weights, batch, ssm_state, y, norm, z, norm_weight, normed,
                                          exec))
    return;
#endif
  selective_state_update(params, inputs, weights, batch, ssm_state, Tensor{}, y, exec);
  gated_rms_norm(norm, y, z, norm_weight, normed, exec);
}

}  // namespace strata::kernels
