// MoE routing: router logits [T, E] → per token the chosen experts [T, top_k] and their mixing weights.
// Learned mode is transformers' Nemotron-H / DeepSeek-V3 "noaux_tc" router (scores, bias for selection
// only, group-limited top-k); hash mode is DeepSeek-V4's fixed token-id → experts table.
#pragma once

#include <cstddef>
#include <cstdint>

#include "strata/core/tensor.h"
#include "strata/core/thread_pool.h"

namespace strata::kernels {

// How logits become scores (always in f32, over all E experts).
enum class RouterScoring : uint8_t {
  sigmoid,        // Nemotron-H, DeepSeek-V3: 1 / (1 + exp(-l))
  softmax,        // Mixtral-style: softmax over the E logits of the token
  sqrt_softplus,  // DeepSeek-V4: sqrt(softplus(l)), softplus with torch's threshold 20
};

enum class RoutingMode : uint8_t {
  learned,  // top-k of (score + correction_bias), optionally group-limited
  hash,     // expert ids = hash_table[token_id]; the scores still give the weights
};

// Largest supported top_k and n_group: selection keeps its candidates in registers/stack.
constexpr int64_t kMaxRoutingTopK = 64;
constexpr int64_t kMaxRoutingGroups = 64;

struct RoutingParams {
  int64_t top_k = 1;            // num_experts_per_tok
  int64_t n_group = 1;          // experts are split into n_group equal, contiguous groups
  int64_t topk_group = 1;       // groups kept per token (n_group = 1 disables group limiting)
  bool norm_topk_prob = false;  // weights /= (sum of the top_k weights + 1e-20)
  float routed_scaling_factor = 1.0f;
  RouterScoring scoring = RouterScoring::sigmoid;
  RoutingMode mode = RoutingMode::learned;
};

// Optional operands; nullptr for absent.
struct RoutingTables {
  const Tensor* correction_bias = nullptr;  // f32 [E]: e_score_correction_bias (learned mode only)
  const Tensor* hash_table = nullptr;       // i32 [vocab, top_k]: tid2eid (hash mode, required)
  const Tensor* token_ids = nullptr;        // i32 [T] (hash mode, required)
};

// Checks every operand and parameter; throws strata::Error naming what is wrong. In hash mode it also
// checks that each token id is inside the table and that the table rows those tokens use hold expert
// ids in [0, E) (only those rows: the table is vocab-sized). expert_ids: i32 [T, top_k] contiguous;
// weights: f32 [T, top_k] contiguous; logits: f32 [T, E] with unit column stride.
void validate_moe_routing(const Tensor& logits, const RoutingTables& tables, const RoutingParams& params,
                          const Tensor& expert_ids, const Tensor& weights);

// Scratch the routing needs: the T×E f32 scores.
size_t moe_routing_workspace_bytes(int64_t tokens, int64_t n_experts);

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
// validate_moe_routing passed; never throws; allocates nothing; splits tokens across the pool when large.
void moe_routing(const Tensor& logits, const RoutingTables& tables, const RoutingParams& params,
                 Tensor& expert_ids, Tensor& weights, void* workspace, ThreadPool& pool);

const char* router_scoring_name(RouterScoring scoring);

}  // namespace strata::kernels
