// CPU kernels behind kernels/moe.h's grouping, gather and mix (the MoE data movement around the expert
// GEMMs). Row copies and mixes split across the pool when large; the counting sort runs on the caller.
#pragma once

#include "strata/core/thread_pool.h"
#include "strata/kernels/moe.h"

namespace strata::kernels::cpu {

void moe_group_by_expert(const Tensor& expert_ids, int64_t n_experts, const MoeGrouping& grouping);
void moe_gather_rows(const Tensor& x, const MoeGrouping& grouping, const Tensor& gathered, ThreadPool& pool);
void moe_mix(const Tensor& expert_out, const MoeGrouping& grouping, const Tensor& weights, const Tensor& out,
             bool accumulate, ThreadPool& pool);

}  // namespace strata::kernels::cpu
