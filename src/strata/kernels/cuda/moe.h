// The MoE kernels on CUDA: routing, the counting sort by expert, the row gather and the weighted mix,
// with the same parameters and results as kernels/moe.h's CPU twins (expert ids and the grouping equal
// exactly; weights and mixed rows to f32 rounding), on the Exec's stream. Assume the neutral entry point
// checked the operands; never throw, allocate or synchronise (the caller copies expert_start to the host
// when it needs the boundaries there).
#pragma once

#include <cstdint>

#include "strata/core/exec.h"
#include "strata/core/tensor.h"
#include "strata/kernels/moe.h"

namespace strata::kernels::cuda {

// One warp per token: scores into `workspace` (device memory, moe_routing_workspace_bytes), then top-k
// by rounds of warp-wide arg-max in the CPU's order (larger first, NaN largest, lower index on ties),
// group-limited when asked. Hash mode reads hash_table[token_ids[t]] on the device; since the check
// cannot read device tables, an id outside the table or an expert outside [0, E) yields expert 0 with a
// NaN weight (a loud result instead of a fault).
void moe_routing(const Tensor& logits, const RoutingTables& tables, const RoutingParams& params,
                 Tensor& expert_ids, Tensor& weights, void* workspace, const Exec& exec);

// One block per expert: counts the slots of lower experts (its start) and places its own slots with a
// block-wide prefix sum, in slot order (stable). Every id must be in [0, n_experts).
void moe_group_by_expert(const Tensor& expert_ids, int64_t n_experts, const MoeGrouping& grouping,
                         const Exec& exec);

// One block per (gathered row, column chunk): a plain copy.
void moe_gather_rows(const Tensor& x, const MoeGrouping& grouping, const Tensor& gathered, const Exec& exec);

// One block per (token, column chunk): the token's k (row, weight) pairs sorted by row, then per column
// acc = fma(w_j, expert_out[row_j], acc) in that order, from out (accumulate) or from 0.
void moe_mix(const Tensor& expert_out, const MoeGrouping& grouping, const Tensor& weights, const Tensor& out,
             bool accumulate, const Exec& exec);

}  // namespace strata::kernels::cuda
