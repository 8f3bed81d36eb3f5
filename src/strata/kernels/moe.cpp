#include "strata/kernels/moe.h"

#include "strata/kernels/cpu/moe_gather.h"
#include "strata/kernels/cpu/moe_routing.h"
#include "strata/kernels/dispatch.h"
#include "strata/core/error.h"
#if STRATA_HAVE_CUDA
#include "strata/kernels/cuda/moe.h"
#include "strata/core/cuda_context.h"
#include "strata/kernels/cuda/moe_expert_gemm.h"
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

void moe_expert_gemm(const Tensor& x, const ExpertWeightTable& weights, const MoeGrouping& grouping,
                     const Tensor& y, const Exec& exec) {
  if (detail::device_of("moe_expert_gemm", exec, {&x, &weights.table, &grouping.expert_start, &y}) != Device::cuda)
    detail::refuse_device("moe_expert_gemm", exec.device());
  const int64_t experts = weights.table.ndim == 1 ? weights.table.size(0) : -1;
  if (x.ndim != 2 || x.dtype != DType::f32 || x.size(1) != weights.k || (x.size(1) > 1 && x.stride(1) != 1) ||
      y.ndim != 2 || y.dtype != DType::f32 || y.size(0) != x.size(0) || y.size(1) != weights.n ||
      (y.size(1) > 1 && y.stride(1) != 1) || weights.table.dtype != DType::i64 ||
      grouping.expert_start.ndim != 1 || grouping.expert_start.size(0) != experts + 1)
    fail("moe_expert_gemm: x {} and y {} must be f32 [rows, {}] and [rows, {}] for a table of {} experts, got "
         "table {} and expert_start {}",
         x.describe(), y.describe(), weights.k, weights.n, experts, weights.table.describe(),
         grouping.expert_start.describe());
#if STRATA_HAVE_CUDA
  cuda::ExpertGemm g;
  g.x = x.ptr<const float>();
  g.ldx = x.size(0) > 1 ? x.stride(0) : weights.k;
  g.weights = static_cast<const void* const*>(weights.table.data);
  g.weight_dtype = weights.dtype;
  g.ldw = weights.ldw;
  g.expert_start = grouping.expert_start.ptr<const int64_t>();
  g.experts = experts;
  g.n = weights.n;
  g.k = weights.k;
  g.y = y.ptr<float>();
  g.ldy = y.size(0) > 1 ? y.stride(0) : weights.n;
  if (x.size(0) > 0) cuda::launch_expert_gemm(g, exec.cuda().stream());
#endif
}

}  // namespace strata::kernels
