#include "strata/kernels/moe.h"

#include "strata/kernels/cpu/moe_gather.h"
#include "strata/kernels/cpu/moe_routing.h"
#include "strata/kernels/dispatch.h"
#if STRATA_HAVE_CUDA
#include "strata/kernels/cuda/moe.h"
#endif

namespace strata::kernels {

const char* router_scoring_name(RouterScoring scoring) {
  switch (scoring) {
    case RouterScoring::sigmoid:
      return "sigmoid";
    case RouterScoring::softmax:
      return "softmax";
    case RouterScoring::sqrt_softplus:
      return "sqrt_softplus";
  }
  return "?";
}

size_t moe_routing_workspace_bytes(int64_t tokens, int64_t n_experts) {
  return static_cast<size_t>(tokens * n_experts) * sizeof(float);
}
void moe_routing(const Tensor& logits, const RoutingTables& tables, const RoutingParams& params,
                 Tensor& expert_ids, Tensor& weights, void* workspace, const Exec& exec) {
  if (detail::device_of("moe_routing", exec,
                        {&logits, &expert_ids, &weights, tables.correction_bias, tables.hash_table,
                         tables.token_ids}) == Device::cuda) {
#if STRATA_HAVE_CUDA
    return cuda::moe_routing(logits, tables, params, expert_ids, weights, workspace, exec);
#endif
  }
  cpu::moe_routing(logits, tables, params, expert_ids, weights, workspace, exec.pool());
}

void moe_group_by_expert(const Tensor& expert_ids, int64_t n_experts, const MoeGrouping& grouping,
                         const Exec& exec) {
  if (detail::device_of("moe_group_by_expert", exec,
                        {&expert_ids, &grouping.expert_start, &grouping.row_token, &grouping.slot_row}) ==
      Device::cuda) {
#if STRATA_HAVE_CUDA
    return cuda::moe_group_by_expert(expert_ids, n_experts, grouping, exec);
#endif
  }
  cpu::moe_group_by_expert(expert_ids, n_experts, grouping);
}

void moe_gather_rows(const Tensor& x, const MoeGrouping& grouping, const Tensor& gathered, const Exec& exec) {
  if (detail::device_of("moe_gather_rows", exec, {&x, &grouping.row_token, &gathered}) == Device::cuda) {
#if STRATA_HAVE_CUDA
    return cuda::moe_gather_rows(x, grouping, gathered, exec);
#endif
  }
  cpu::moe_gather_rows(x, grouping, gathered, exec.pool());
}

void moe_mix(const Tensor& expert_out, const MoeGrouping& grouping, const Tensor& weights, const Tensor& out,
             bool accumulate, const Exec& exec) {
  if (detail::device_of("moe_mix", exec, {&expert_out, &grouping.slot_row, &weights, &out}) == Device::cuda) {
#if STRATA_HAVE_CUDA
    return cuda::moe_mix(expert_out, grouping, weights, out, accumulate, exec);
#endif
  }
  cpu::moe_mix(expert_out, grouping, weights, out, accumulate, exec.pool());
}

}  // namespace strata::kernels
