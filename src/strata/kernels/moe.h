// Mixture-of-experts kernels: routing (router logits [T, E] → per token its top_k experts and mixing
// weights), the counting sort that groups (token, choice) slots by expert, the row gather that feeds each
// expert one contiguous block, and the weighted mix back to token rows. Neutral entry points.
#pragma once

#include <cstddef>
#include <cstdint>

#include "strata/core/exec.h"
#include "strata/core/tensor.h"

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

const char* router_scoring_name(RouterScoring scoring);

// Checks every operand and parameter (see cpu/moe_routing.h); throws strata::Error naming what is wrong.
void check_moe_routing(const Tensor& logits, const RoutingTables& tables, const RoutingParams& params,
                       const Tensor& expert_ids, const Tensor& weights);

// Scratch the routing needs: the T×E f32 scores.
size_t moe_routing_workspace_bytes(int64_t tokens, int64_t n_experts);

// Routes every token (transformers' NemotronHMoE.route_tokens_to_experts; details in cpu/moe_routing.h).
void moe_routing(const Tensor& logits, const RoutingTables& tables, const RoutingParams& params,
                 Tensor& expert_ids, Tensor& weights, void* workspace, const Exec& exec);

// The grouping of a step's T·k (token, choice) slots by expert. Expert e owns rows
// [expert_start[e], expert_start[e+1]) of the gathered block, its tokens in ascending order.
struct MoeGrouping {
  Tensor expert_start;  // i64 [E + 1]
  Tensor row_token;     // i64 [T·k]: the token each gathered row comes from
  Tensor slot_row;      // i64 [T·k]: the gathered row of slot t·k + j
};

// Counting sort of expert_ids (i32 [T, k], every id in [0, E)) into `grouping` (all contiguous, sized as
// above). Stable: a token's rows appear in token order within each expert.
void moe_group_by_expert(const Tensor& expert_ids, int64_t n_experts, const MoeGrouping& grouping,
                         const Exec& exec);

// gathered[r] = x[row_token[r]] for every gathered row; x f32 [T, W] (row stride >= W), gathered f32
// [T·k, W] contiguous.
void moe_gather_rows(const Tensor& x, const MoeGrouping& grouping, const Tensor& gathered, const Exec& exec);

// out[t] (+)= Σ_j weights[t, j] · expert_out[slot_row[t·k + j]], summed in ascending gathered row (=
// ascending expert id, transformers' index_add_ order). expert_out f32 [T·k, W]; weights f32 [T, k];
// out f32 [T, W] (row stride >= W). With accumulate the sum is added to out's rows, else it replaces them.
void moe_mix(const Tensor& expert_out, const MoeGrouping& grouping, const Tensor& weights, const Tensor& out,
             bool accumulate, const Exec& exec);

// The experts' weights as the grouped GEMM reads them: `table` is a device i64 [E] of device pointers, each
// expert's weight [n, k] in `dtype` (f32, bf16, f16) with row stride ldw.
struct ExpertWeightTable {
  Tensor table;
  DType dtype = DType::bf16;
  int64_t n = 0, k = 0, ldw = 0;
};

// y[r] = x[r] · W_eᵀ for every gathered row r of every expert e (grouping.expert_start read on the device
// only, so the call never synchronises: a captured MoE decode step uses it). x f32 [T·k, k] and y f32
// [T·k, n] with unit column stride. GPU only: the CPU runs one gemm per expert from the host grouping.
void moe_expert_gemm(const Tensor& x, const ExpertWeightTable& weights, const MoeGrouping& grouping,
                     const Tensor& y, const Exec& exec);

}  // namespace strata::kernels
