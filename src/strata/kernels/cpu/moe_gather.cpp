#include "strata/kernels/cpu/moe_gather.h"

#include <cstring>

#include "strata/kernels/cpu/parallel_rows.h"

namespace strata::kernels::cpu {


void moe_group_by_expert(const Tensor& expert_ids, int64_t n_experts, const MoeGrouping& grouping) {
  const int64_t n_slots = expert_ids.numel();
  const int32_t* slot_expert = expert_ids.ptr<const int32_t>();
  int64_t* start = grouping.expert_start.ptr<int64_t>();
  int64_t* row_token = grouping.row_token.ptr<int64_t>();
  int64_t* slot_row = grouping.slot_row.ptr<int64_t>();
  const int64_t k = expert_ids.size(1);
  // Count into start[e + 1], prefix-sum, place using start[e] as the cursor, then shift back: no
  // second cursor array is needed.
  std::memset(start, 0, sizeof(int64_t) * static_cast<size_t>(n_experts + 1));
  for (int64_t s = 0; s < n_slots; ++s) ++start[slot_expert[s] + 1];
  for (int64_t e = 0; e < n_experts; ++e) start[e + 1] += start[e];
  for (int64_t s = 0; s < n_slots; ++s) {
    const int64_t row = start[slot_expert[s]]++;
    row_token[row] = s / k;
    slot_row[s] = row;
  }
  for (int64_t e = n_experts; e > 0; --e) start[e] = start[e - 1];
  start[0] = 0;
}

void moe_gather_rows(const Tensor& x, const MoeGrouping& grouping, const Tensor& gathered, ThreadPool& pool) {
  const int64_t rows = gathered.size(0), width = gathered.size(1);
  const int64_t* row_token = grouping.row_token.ptr<const int64_t>();
  parallel_rows(pool, rows, width, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r)
      std::memcpy(gathered.ptr<float>() + r * width, x.ptr<const float>() + row_token[r] * x.stride(0),
                  sizeof(float) * static_cast<size_t>(width));
  });
}

void moe_mix(const Tensor& expert_out, const MoeGrouping& grouping, const Tensor& weights, const Tensor& out,
             bool accumulate, ThreadPool& pool) {
  const int64_t tokens = weights.size(0), k = weights.size(1), width = expert_out.size(1);
  const int64_t* slot_row = grouping.slot_row.ptr<const int64_t>();
  parallel_rows(pool, tokens, width * k, [&](int64_t begin, int64_t end) {
    int64_t rows[kMaxRoutingTopK];
    float weight[kMaxRoutingTopK];
    for (int64_t t = begin; t < end; ++t) {
      for (int64_t j = 0; j < k; ++j) {  // insertion sort by row; k is small
        const int64_t row = slot_row[t * k + j];
        const float wj = weights.ptr<const float>()[t * k + j];
        int64_t i = j;
        for (; i > 0 && rows[i - 1] > row; --i) {
          rows[i] = rows[i - 1];
          weight[i] = weight[i - 1];
        }
        rows[i] = row;
        weight[i] = wj;
      }
      float* dst = out.ptr<float>() + t * out.stride(0);
      if (!accumulate) std::memset(dst, 0, sizeof(float) * static_cast<size_t>(width));
      for (int64_t j = 0; j < k; ++j) {
        const float* src = expert_out.ptr<const float>() + rows[j] * width;
        const float wj = weight[j];
        for (int64_t c = 0; c < width; ++c) dst[c] += wj * src[c];
      }
    }
  });
}

}  // namespace strata::kernels::cpu
