// MoE routing on CUDA: one warp per token. The lanes score the token's experts (lane i takes experts
// i, i + 32, ...) into the workspace row, then choose the top_k experts in rounds: in round j every lane
// offers its best expert ranked after round j-1's winner and a butterfly shuffle picks the best offer, so
// all lanes agree on it. The order is the CPU's (cpu/moe_routing.cpp): larger value first, NaN above
// everything, lower index among equals; it is a strict total order, so the rounds give exactly the CPU's
// ids. Group limiting first picks topk_group groups the same way (group score = the sum of the group's
// two best), then the rounds skip the experts of the other groups.
//
// Exact ids need scores equal to the CPU's bit for bit wherever it can matter, so the arithmetic follows
// the CPU's expression by expression: exp is evaluated in double and rounded to float (the correctly
// rounded expf, which glibc's expf also returns except in rare half-ulp cases; CUDA's expf may be 2 ulp
// off), divisions and square roots are IEEE, and the softmax sum and the weight sum run sequentially in
// the CPU's order on one lane.
#include "strata/kernels/cuda/moe.h"

#include <cuda_runtime.h>

#include <cstdint>

#include "strata/core/cuda_context.h"
#include "strata/kernels/cuda/launch.cuh"

namespace strata::kernels::cuda {
namespace {

constexpr int kWarpsPerBlock = 4;
constexpr unsigned kFullMask = 0xffffffffu;
constexpr int32_t kNone = INT32_MAX;  // an empty candidate: ranks after every real one

struct RoutingArgs {
  const float* logits = nullptr;
  int64_t logits_stride = 0;
  const float* bias = nullptr;  // nullptr: no correction bias
  const int32_t* hash_table = nullptr;
  int64_t table_row_stride = 0, table_col_stride = 0, vocab = 0;
  const int32_t* token_ids = nullptr;
  int64_t token_stride = 0;
  float* scores = nullptr;  // workspace [tokens, n_experts], contiguous
  int32_t* ids = nullptr;
  float* weights = nullptr;
  int64_t tokens = 0;
  int n_experts = 0, top_k = 0, n_group = 1, topk_group = 1;
  bool limit_groups = false;
  bool hash = false;
  bool norm_topk_prob = false;
  float routed_scaling_factor = 1.0f;
  RouterScoring scoring = RouterScoring::sigmoid;
};

struct Candidate {
  float value;
  int32_t index;
};

// torch.topk's order, as the CPU's `better`.
__device__ __forceinline__ bool better(float a, float b) { return (isnan(a) && !isnan(b)) || a > b; }

// a before b in the selection order; empty candidates last.
__device__ __forceinline__ bool ranks_before(Candidate a, Candidate b) {
  if (a.index == kNone) return false;
  if (b.index == kNone) return true;
  if (better(a.value, b.value)) return true;
  if (better(b.value, a.value)) return false;
  return a.index < b.index;
}

// The best candidate of the warp; every lane gets the same one (the order is total, so the butterfly's
// pairing order cannot change the answer).
__device__ __forceinline__ Candidate warp_best(Candidate c) {
#pragma unroll
  for (int offset = 16; offset > 0; offset >>= 1) {
    const Candidate other{__shfl_xor_sync(kFullMask, c.value, offset), __shfl_xor_sync(kFullMask, c.index, offset)};
    if (ranks_before(other, c)) c = other;
  }
  return c;
}

// expf(v) correctly rounded (see the file comment).
__device__ __forceinline__ float exp_f32(float v) { return static_cast<float>(exp(static_cast<double>(v))); }

__device__ __forceinline__ float sigmoid(float v) { return 1.0f / (1.0f + exp_f32(-v)); }

// sqrt(softplus(v)) with torch's threshold 20, as cpu::softplus: log1p of the rounded exp.
__device__ __forceinline__ float sqrt_softplus(float v) {
  const float softplus = v > 20.0f ? v : static_cast<float>(log1p(static_cast<double>(exp_f32(v))));
  return sqrtf(softplus);
}

// Writes the token's scores; on return every lane may read every score of the row.
__device__ void score_token(const RoutingArgs& a, const float* logits, float* scores, int lane) {
  const int E = a.n_experts;
  switch (a.scoring) {
    case RouterScoring::sigmoid:
      for (int e = lane; e < E; e += 32) scores[e] = sigmoid(logits[e]);
      break;
    case RouterScoring::sqrt_softplus:
      for (int e = lane; e < E; e += 32) scores[e] = sqrt_softplus(logits[e]);
      break;
    case RouterScoring::softmax: {
      // The CPU's max (`l > max ? l : max`, NaN never taken) is order-free up to the sign of a zero
      // maximum, which cannot change l - max's exp.
      float max = -INFINITY;
      for (int e = lane; e < E; e += 32) max = logits[e] > max ? logits[e] : max;
#pragma unroll
      for (int offset = 16; offset > 0; offset >>= 1) {
        const float other = __shfl_xor_sync(kFullMask, max, offset);
        max = other > max ? other : max;
      }
      for (int e = lane; e < E; e += 32) scores[e] = exp_f32(logits[e] - max);
      __syncwarp();
      float sum = 0.0f;
      if (lane == 0)
        for (int e = 0; e < E; ++e) sum += scores[e];  // the CPU's order
      const float inv = 1.0f / __shfl_sync(kFullMask, sum, 0);
      for (int e = lane; e < E; e += 32) scores[e] *= inv;
      break;
    }
  }
  __syncwarp();  // orders the score writes before other lanes read them
}

__device__ __forceinline__ float choice_of(const RoutingArgs& a, const float* scores, int e) {
  return a.bias != nullptr ? scores[e] + a.bias[e] : scores[e];
}

// Bit g set: group g is kept. Lane i scores groups i and i + 32 (n_group <= 64) from their two best
// choices, then topk_group rounds pick the kept groups.
__device__ uint64_t kept_groups(const RoutingArgs& a, const float* scores, int lane) {
  if (!a.limit_groups) return ~uint64_t{0};
  const int group_size = a.n_experts / a.n_group;
  Candidate group[2];
#pragma unroll
  for (int i = 0; i < 2; ++i) {
    const int g = lane + 32 * i;
    group[i] = {-INFINITY, kNone};
    if (g >= a.n_group) continue;
    Candidate top[2] = {{-INFINITY, kNone}, {-INFINITY, kNone}};
    for (int e = g * group_size; e < (g + 1) * group_size; ++e) {
      const Candidate c{choice_of(a, scores, e), e};
      if (ranks_before(c, top[0])) {
        top[1] = top[0];
        top[0] = c;
      } else if (ranks_before(c, top[1])) {
        top[1] = c;
      }
    }
    group[i] = {top[0].value + top[1].value, g};
  }
  uint64_t kept = 0;
  Candidate previous{-INFINITY, kNone};
  for (int round = 0; round < a.topk_group; ++round) {
    Candidate best{-INFINITY, kNone};
#pragma unroll
    for (int i = 0; i < 2; ++i)
      if ((round == 0 || ranks_before(previous, group[i])) && ranks_before(group[i], best)) best = group[i];
    best = warp_best(best);
    kept |= uint64_t{1} << best.index;
    previous = best;
  }
  return kept;
}

// Lane 0 writes ids[0, top_k) in descending order of choice among the kept groups' experts.
__device__ void select_learned(const RoutingArgs& a, const float* scores, int lane, int32_t* ids) {
  const uint64_t kept = kept_groups(a, scores, lane);
  const int group_size = a.n_experts / a.n_group;
  Candidate previous{-INFINITY, kNone};
  for (int j = 0; j < a.top_k; ++j) {
    Candidate best{-INFINITY, kNone};
    for (int e = lane; e < a.n_experts; e += 32) {
      if (((kept >> (e / group_size)) & 1) == 0) continue;  // transformers' -inf mask: excluded outright
      const Candidate c{choice_of(a, scores, e), e};
      if ((j == 0 || ranks_before(previous, c)) && ranks_before(c, best)) best = c;
    }
    best = warp_best(best);
    if (lane == 0) ids[j] = best.index;
    previous = best;
  }
}

__global__ void __launch_bounds__(kWarpsPerBlock * 32) moe_routing_kernel(RoutingArgs a) {
  enter_kernel();  // launch.cuh: before any global memory access
  const int64_t t = static_cast<int64_t>(blockIdx.x) * kWarpsPerBlock + threadIdx.x / 32;
  const int lane = static_cast<int>(threadIdx.x % 32);
  if (t >= a.tokens) return;  // the whole warp leaves together
  float* scores = a.scores + t * a.n_experts;
  int32_t* ids = a.ids + t * a.top_k;
  float* weights = a.weights + t * a.top_k;
  score_token(a, a.logits + t * a.logits_stride, scores, lane);
  if (!a.hash) select_learned(a, scores, lane, ids);
  if (lane != 0) return;

  uint64_t invalid = 0;  // hash slots whose table entry could not be used
  if (a.hash) {
    const int64_t token = a.token_ids[t * a.token_stride];
    for (int j = 0; j < a.top_k; ++j) {
      int64_t e = -1;
      if (token >= 0 && token < a.vocab) e = a.hash_table[token * a.table_row_stride + j * a.table_col_stride];
      if (e < 0 || e >= a.n_experts) {
        invalid |= uint64_t{1} << j;
        e = 0;
      }
      ids[j] = static_cast<int32_t>(e);
    }
  }
  // The CPU's weight arithmetic: unbiased scores, summed in slot order, divided, then scaled.
  float sum = 0.0f;
  for (int j = 0; j < a.top_k; ++j) {
    const float w = scores[ids[j]];
    weights[j] = w;
    sum += w;
  }
  const float denominator = sum + 1e-20f;
  for (int j = 0; j < a.top_k; ++j) {
    float w = weights[j];
    if (a.norm_topk_prob) w /= denominator;
    w *= a.routed_scaling_factor;
    weights[j] = ((invalid >> j) & 1) != 0 ? __int_as_float(0x7fc00000) : w;
  }
}

}  // namespace

void moe_routing(const Tensor& logits, const RoutingTables& tables, const RoutingParams& params,
                 Tensor& expert_ids, Tensor& weights, void* workspace, const Exec& exec) {
  const int64_t tokens = logits.size(0);
  if (tokens == 0) return;
  RoutingArgs a;
  a.logits = logits.ptr<const float>();
  a.logits_stride = logits.stride(0);
  a.scores = static_cast<float*>(workspace);
  a.ids = expert_ids.ptr<int32_t>();
  a.weights = weights.ptr<float>();
  a.tokens = tokens;
  a.n_experts = static_cast<int>(logits.size(1));
  a.top_k = static_cast<int>(params.top_k);
  a.norm_topk_prob = params.norm_topk_prob;
  a.routed_scaling_factor = params.routed_scaling_factor;
  a.scoring = params.scoring;
  a.hash = params.mode == RoutingMode::hash;
  if (a.hash) {
    const Tensor& table = *tables.hash_table;
    a.hash_table = table.ptr<const int32_t>();
    a.table_row_stride = table.stride(0);
    a.table_col_stride = table.stride(1);
    a.vocab = table.size(0);
    a.token_ids = tables.token_ids->ptr<const int32_t>();
    a.token_stride = tables.token_ids->stride(0);
  } else {
    a.bias = tables.correction_bias != nullptr ? tables.correction_bias->ptr<const float>() : nullptr;
    a.n_group = static_cast<int>(params.n_group);
    a.topk_group = static_cast<int>(params.topk_group);
    a.limit_groups = params.n_group > 1 && params.topk_group < params.n_group;
  }
  const auto blocks = static_cast<unsigned>((tokens + kWarpsPerBlock - 1) / kWarpsPerBlock);
  launch_kernel(moe_routing_kernel, blocks, kWarpsPerBlock * 32, 0, static_cast<cudaStream_t>(exec.cuda().stream()), a);
  strata::cuda::check_last_error("moe_routing");
}

}  // namespace strata::kernels::cuda
