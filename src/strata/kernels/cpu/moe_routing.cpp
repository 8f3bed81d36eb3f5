#include "strata/kernels/cpu/moe_routing.h"

#include <cmath>

#include "strata/core/error.h"
#include "strata/kernels/cpu/activations.h"

namespace strata::kernels::cpu {

namespace {

// Below this many logits the pool's wake-up costs more than the routing itself.
constexpr int64_t kInlineLogits = 1 << 15;

// torch.topk's order: NaN above everything, then by value.
inline bool better(float a, float b) { return (std::isnan(a) && !std::isnan(b)) || a > b; }

struct Candidate {
  float value;
  int32_t index;
};

// Keeps best[0, count) sorted by `better`, at most k entries. Candidates arrive in ascending index and an
// equal value never displaces an earlier one, so ties resolve to the lower index.
inline void offer(Candidate* best, int64_t& count, int64_t k, float value, int32_t index) {
  if (count == k && !better(value, best[k - 1].value)) return;
  int64_t pos = count < k ? count++ : k - 1;
  while (pos > 0 && better(value, best[pos - 1].value)) {
    best[pos] = best[pos - 1];
    --pos;
  }
  best[pos] = {value, index};
}

void score_row(const float* logits, float* scores, int64_t n, RouterScoring scoring) {
  switch (scoring) {
    case RouterScoring::sigmoid:
      for (int64_t e = 0; e < n; ++e) scores[e] = 1.0f / (1.0f + std::exp(-logits[e]));
      break;
    case RouterScoring::sqrt_softplus:
      for (int64_t e = 0; e < n; ++e) scores[e] = std::sqrt(cpu::softplus(logits[e]));
      break;
    case RouterScoring::softmax: {
      float max = -INFINITY;
      for (int64_t e = 0; e < n; ++e) max = logits[e] > max ? logits[e] : max;
      float sum = 0.0f;
      for (int64_t e = 0; e < n; ++e) sum += scores[e] = std::exp(logits[e] - max);
      const float inv = 1.0f / sum;
      for (int64_t e = 0; e < n; ++e) scores[e] *= inv;
      break;
    }
  }
}

// Chooses ids for one token of learned routing from its scores.
void select_learned(const float* scores, const float* bias, int64_t n_experts, const RoutingParams& p,
                    int32_t* ids) {
  auto choice = [&](int64_t e) { return bias ? scores[e] + bias[e] : scores[e]; };
  bool kept[kMaxRoutingGroups];
  const int64_t group_size = n_experts / p.n_group;
  const bool limit_groups = p.n_group > 1 && p.topk_group < p.n_group;
  if (limit_groups) {
    Candidate groups[kMaxRoutingGroups];
    int64_t n_kept = 0;
    for (int64_t g = 0; g < p.n_group; ++g) {
      Candidate top2[2];
      int64_t n_top = 0;
      for (int64_t e = g * group_size; e < (g + 1) * group_size; ++e)
        offer(top2, n_top, 2, choice(e), static_cast<int32_t>(e));
      offer(groups, n_kept, p.topk_group, top2[0].value + top2[1].value, static_cast<int32_t>(g));
      kept[g] = false;
    }
    for (int64_t i = 0; i < n_kept; ++i) kept[groups[i].index] = true;
  }
  Candidate best[kMaxRoutingTopK];
  int64_t count = 0;
  for (int64_t g = 0; g < p.n_group; ++g) {
    if (limit_groups && !kept[g]) continue;  // transformers' -inf mask: excluded outright
    for (int64_t e = g * group_size; e < (g + 1) * group_size; ++e)
      offer(best, count, p.top_k, choice(e), static_cast<int32_t>(e));
  }
  for (int64_t j = 0; j < p.top_k; ++j) ids[j] = best[j].index;
}

void route_token(const float* logits, float* scores, int64_t n_experts, const RoutingTables& tables,
                 const RoutingParams& p, int64_t token, int32_t* ids, float* weights) {
  score_row(logits, scores, n_experts, p.scoring);
  if (p.mode == RoutingMode::hash) {
    const Tensor& table = *tables.hash_table;
    const int64_t id = tables.token_ids->ptr<const int32_t>()[token * tables.token_ids->stride(0)];
    const int32_t* row = table.ptr<const int32_t>() + id * table.stride(0);
    for (int64_t j = 0; j < p.top_k; ++j) ids[j] = row[j * table.stride(1)];
  } else {
    const float* bias = tables.correction_bias ? tables.correction_bias->ptr<const float>() : nullptr;
    select_learned(scores, bias, n_experts, p, ids);
  }
  float sum = 0.0f;
  for (int64_t j = 0; j < p.top_k; ++j) sum += weights[j] = scores[ids[j]];
  // Divide, then scale, as transformers does, so each weight sees the same two roundings.
  const float denominator = sum + 1e-20f;
  for (int64_t j = 0; j < p.top_k; ++j) {
    if (p.norm_topk_prob) weights[j] /= denominator;
    weights[j] *= p.routed_scaling_factor;
  }
}

// Shapes only (never the data): `device` is the router logits' device.
void check_matrix(const Tensor& t, DType dtype, int64_t rows, int64_t cols, const char* name, const char* what,
                  Device device) {
  if (t.device != device || t.ndim != 2 || t.dtype != dtype || t.size(0) != rows || t.size(1) != cols)
    fail("moe routing: {} must be {} [{}, {}] ({}) on the {}, got {}", name, dtype_name(dtype), rows, cols,
         what, device_name(device), t.describe());
  if (rows * cols > 0 && t.data == nullptr) fail("moe routing: {} has no data", name);
}

}  // namespace


}  // namespace strata::kernels::cpu

// Operand checks are device-neutral: one definition, declared in the neutral header. It shares this
// file's helpers.
namespace strata::kernels {

using namespace cpu;

void check_moe_routing(const Tensor& logits, const RoutingTables& tables, const RoutingParams& p,
                          const Tensor& expert_ids, const Tensor& weights) {
  // Operands may live on a GPU: only shapes and strides are read there (the dispatch checks that every
  // operand is on the call's device).
  if (logits.ndim != 2 || logits.dtype != DType::f32)
    fail("moe routing: router logits must be f32 [tokens, n_experts], got {}", logits.describe());
  const int64_t tokens = logits.size(0), n_experts = logits.size(1);
  if (n_experts < 1) fail("moe routing: router logits {} have no experts", logits.describe());
  if (tokens > 0 && (logits.data == nullptr || (n_experts > 1 && logits.stride(1) != 1) ||
                     (tokens > 1 && logits.stride(0) < n_experts)))
    fail("moe routing: router logits {} must have contiguous rows", logits.describe());
  if (p.top_k < 1 || p.top_k > n_experts || p.top_k > kMaxRoutingTopK)
    fail("moe routing: top_k (num_experts_per_tok) = {} must be in [1, min(n_experts = {}, {})]", p.top_k,
         n_experts, kMaxRoutingTopK);
  if (!std::isfinite(p.routed_scaling_factor))
    fail("moe routing: routed_scaling_factor must be finite, got {}", p.routed_scaling_factor);
  check_matrix(expert_ids, DType::i32, tokens, p.top_k, "expert_ids", "tokens, top_k", logits.device);
  check_matrix(weights, DType::f32, tokens, p.top_k, "weights", "tokens, top_k", logits.device);
  if (!expert_ids.is_contiguous() || !weights.is_contiguous())
    fail("moe routing: expert_ids {} and weights {} must be contiguous", expert_ids.describe(),
         weights.describe());

  if (p.mode == RoutingMode::learned) {
    if (p.n_group < 1 || p.n_group > kMaxRoutingGroups || n_experts % p.n_group != 0)
      fail("moe routing: n_group = {} must be in [1, {}] and divide n_experts = {}", p.n_group,
           kMaxRoutingGroups, n_experts);
    if (p.topk_group < 1 || p.topk_group > p.n_group)
      fail("moe routing: topk_group = {} must be in [1, n_group = {}]", p.topk_group, p.n_group);
    const int64_t group_size = n_experts / p.n_group;
    // transformers scores a group by topk(2) of its experts, which needs two of them.
    if (p.n_group > 1 && group_size < 2)
      fail("moe routing: n_group = {} leaves {} expert(s) per group; group scores need at least 2", p.n_group,
           group_size);
    if (p.top_k > p.topk_group * group_size)
      fail("moe routing: top_k = {} exceeds the {} experts in topk_group = {} groups of {}", p.top_k,
           p.topk_group * group_size, p.topk_group, group_size);
    if (const Tensor* b = tables.correction_bias) {
      if (b->ndim != 1 || b->dtype != DType::f32 || b->size(0) != n_experts ||
          b->data == nullptr || (n_experts > 1 && b->stride(0) != 1))
        fail("moe routing: e_score_correction_bias must be contiguous f32 [{}], got {}", n_experts,
             b->describe());
    }
    return;
  }

  const Tensor* table = tables.hash_table;
  const Tensor* ids = tables.token_ids;
  if (table == nullptr || ids == nullptr)
    fail("moe routing: hash routing needs both the tid2eid table and the input token ids");
  if (table->ndim != 2 || table->dtype != DType::i32 ||
      table->size(1) != p.top_k || table->size(0) < 1 || table->data == nullptr)
    fail("moe routing: hash table (tid2eid) must be i32 [vocab, top_k = {}], got {}", p.top_k,
         table->describe());
  if (ids->ndim != 1 || ids->dtype != DType::i32 || ids->size(0) != tokens ||
      (tokens > 0 && ids->data == nullptr))
    fail("moe routing: token ids must be i32 [{}] (one per routed token), got {}", tokens, ids->describe());
  // The table's contents can be checked only where they can be read; the CUDA kernel turns an id it
  // cannot use into a NaN weight instead (kernels/cuda/moe.h).
  if (table->device != Device::cpu || ids->device != Device::cpu) return;
  const int64_t vocab = table->size(0);
  for (int64_t t = 0; t < tokens; ++t) {
    const int64_t id = ids->ptr<const int32_t>()[t * ids->stride(0)];
    if (id < 0 || id >= vocab)
      fail("moe routing: token id {} at position {} is outside the hash table's vocab of {}", id, t, vocab);
    const int32_t* row = table->ptr<const int32_t>() + id * table->stride(0);
    for (int64_t j = 0; j < p.top_k; ++j) {
      const int64_t e = row[j * table->stride(1)];
      if (e < 0 || e >= n_experts)
        fail("moe routing: hash table row {} (token at position {}) names expert {}, outside [0, {})", id, t,
             e, n_experts);
    }
  }
}

}  // namespace strata::kernels

namespace strata::kernels::cpu {


void moe_routing(const Tensor& logits, const RoutingTables& tables, const RoutingParams& params,
                 Tensor& expert_ids, Tensor& weights, void* workspace, ThreadPool& pool) {
  const int64_t tokens = logits.size(0), n_experts = logits.size(1);
  float* scores = static_cast<float*>(workspace);
  int32_t* ids = expert_ids.ptr<int32_t>();
  float* w = weights.ptr<float>();
  const int64_t k = params.top_k;
  auto run = [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; ++t)
      route_token(logits.ptr<const float>() + t * logits.stride(0), scores + t * n_experts, n_experts, tables,
                  params, t, ids + t * k, w + t * k);
  };
  if (tokens * n_experts < kInlineLogits)
    run(0, tokens);
  else
    pool.parallel_for(tokens, run);
}

}  // namespace strata::kernels::cpu
