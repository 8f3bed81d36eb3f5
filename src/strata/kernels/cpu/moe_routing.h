// The CPU MoE routing behind kernels/moe.h: router logits [T, E] → per token the chosen experts [T, top_k] and their mixing weights.
// Learned mode is transformers' Nemotron-H / DeepSeek-V3 "noaux_tc" router (scores, bias for selection
// only, group-limited top-k); hash mode is DeepSeek-V4's fixed token-id → experts table.
#pragma once

#include <cstddef>
#include <cstdint>

#include "strata/core/tensor.h"
#include "strata/core/thread_pool.h"
#include "strata/kernels/moe.h"

namespace strata::kernels::cpu {

// Checks every operand and parameter; throws strata::Error naming what is wrong. In hash mode, when the
// table and the token ids are host tensors, it also checks that each token id is inside the table and
// that the table rows those tokens use hold expert ids in [0, E) (only those rows: the table is
// vocab-sized); device operands are checked by shape only. expert_ids: i32 [T, top_k] contiguous;
// weights: f32 [T, top_k] contiguous; logits: f32 [T, E] with unit column stride.
using kernels::check_moe_routing;  // declared with the neutral entry point


// Routes every token. Semantics (transformers NemotronHMoE.route_tokens_to_experts):
//   s = score(logits) in f32;  c = s + correction_bias (or s);
//   if n_group > 1: group score = sum of the two largest c in the group; the topk_group best groups are
//     kept, every expert of the other groups is excluded (transformers masks them with -inf, so they can
//     never win even when the kept experts' c are negative);
//   ids = the top_k experts by c among those kept, in descending c; hash mode: ids = hash_table[token].
//   weights = s[ids] (unbiased), / (sum + 1e-20) if norm_topk_prob, × routed_scaling_factor.
// Ordering: larger first, NaN counts as the largest (as torch.topk), equal values → lower index first.
// torch.topk on CPU leaves ties to std::nth_element/partial_sort (unspecified), so only exact ties at
// the k-th place can pick a different (equal-scored) expert than transformers. Assumes
// check_moe_routing passed; never throws; allocates nothing; splits tokens across the pool when large.
void moe_routing(const Tensor& logits, const RoutingTables& tables, const RoutingParams& params,
                 Tensor& expert_ids, Tensor& weights, void* workspace, ThreadPool& pool);

}  // namespace strata::kernels::cpu
