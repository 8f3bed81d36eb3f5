// Portable GEMM: plain C++ the compiler vectorises for whatever target it is given (AVX2, NEON, ...).
// Each weight row is widened to f32 one depth block at a time (on the stack) and dotted with every x row,
// so the weight is read once; eight partial sums per dot give the vectoriser independent lanes.
#include "strata/kernels/cpu/gemm_kernels.h"

#include <algorithm>

namespace strata::kernels::detail {

namespace {

constexpr int64_t kDepth = 512;
constexpr int kLanes = 8;

float dot(const float* a, const float* b, int64_t n) {
  float lanes[kLanes] = {};
  int64_t k = 0;
  for (; k + kLanes <= n; k += kLanes)
    for (int l = 0; l < kLanes; ++l) lanes[l] += a[k + l] * b[k + l];
  float sum = 0.0f;
  for (; k < n; ++k) sum += a[k] * b[k];
  for (int l = 0; l < kLanes; ++l) sum += lanes[l];
  return sum;
}

void widen_row(const GemmProblem& p, int64_t col, int64_t k0, int64_t depth, float* out) {
  switch (p.weight_dtype) {
    case DType::bf16: {
      const uint16_t* w = static_cast<const uint16_t*>(p.weight) + col * p.ldw + k0;
      for (int64_t k = 0; k < depth; ++k) out[k] = bf16_to_f32(w[k]);
      break;
    }
    case DType::f16: {
      const uint16_t* w = static_cast<const uint16_t*>(p.weight) + col * p.ldw + k0;
      for (int64_t k = 0; k < depth; ++k) out[k] = f16_to_f32(w[k]);
      break;
    }
    default: {
      const float* w = static_cast<const float*>(p.weight) + col * p.ldw + k0;
      std::copy(w, w + depth, out);
      break;
    }
  }
}

}  // namespace

void gemm_portable(const GemmProblem& p, int64_t n_begin, int64_t n_end) {
  alignas(64) float row[kDepth];
  for (int64_t col = n_begin; col < n_end; ++col) {
    const float bias = p.bias_at(col);
    for (int64_t k0 = 0; k0 < p.k; k0 += kDepth) {
      const int64_t depth = std::min(kDepth, p.k - k0);
      widen_row(p, col, k0, depth, row);
      for (int64_t i = 0; i < p.m; ++i) {
        float& out = p.y[i * p.ldy + col];
        const float base = k0 > 0 ? out : (p.accumulate ? out : 0.0f) + bias;
        out = base + dot(p.x + i * p.ldx + k0, row, depth);
      }
    }
  }
}

}  // namespace strata::kernels::detail
