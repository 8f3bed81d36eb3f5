#include "strata/kernels/cpu/rope.h"

#include <cmath>

#include "strata/core/error.h"

namespace strata::kernels::cpu {

}  // namespace strata::kernels::cpu

// Operand checks are device-neutral: one definition, declared in the neutral header. It shares this
// file's helpers.
namespace strata::kernels {

using namespace cpu;

void check_rope(const RopeParams& params, const Tensor& x, std::span<const int64_t> positions) {
  const RopeParams& p = params;
  if (p.n_heads <= 0 || p.head_dim <= 0)
    fail("rope: num_heads {} and head_dim {} must be positive", p.n_heads, p.head_dim);
  if (p.rotary_dim <= 0 || p.rotary_dim % 2 != 0 || p.rotary_dim > p.head_dim || p.rotary_dim > kMaxRotaryDim)
    fail("rope: rotary_dim {} must be even, positive and at most head_dim {} (and {})", p.rotary_dim,
         p.head_dim, kMaxRotaryDim);
  if (!(p.theta > 0.0f) || !std::isfinite(p.theta)) fail("rope: theta {} must be positive and finite", p.theta);
  const int64_t width = p.n_heads * p.head_dim;
  if (x.dtype != DType::f32 || x.ndim != 2 || x.size(1) != width)
    fail("rope: x is {}, expected f32[tokens, {}] (num_heads*head_dim)", x.describe(), width);
  if (x.stride(1) != 1 || (x.size(0) > 1 && x.stride(0) < width))
    fail("rope: x must have unit column stride and row stride >= {} (got strides {}, {})", width, x.stride(0),
         x.stride(1));
  if (x.size(0) > 0 && x.data == nullptr) fail("rope: x has no data");
  if (static_cast<int64_t>(positions.size()) != x.size(0))
    fail("rope: {} positions for {} token rows, expected one per row", positions.size(), x.size(0));
  for (size_t t = 0; t < positions.size(); ++t)
    if (positions[t] < 0) fail("rope: token {} has position {}, expected >= 0", t, positions[t]);
}

}  // namespace strata::kernels

namespace strata::kernels::cpu {

void apply_rope(const RopeParams& params, const Tensor& x, std::span<const int64_t> positions,
                ThreadPool& pool) {
  const int64_t half = params.rotary_dim / 2, hd = params.head_dim, heads = params.n_heads;
  // Pair i of a head: NeoX rotates (i, i + half), GPT-J (2i, 2i + 1).
  const bool neox = params.style == RopeStyle::neox;
  const int64_t first_step = neox ? 1 : 2, second_offset = neox ? half : 1;
  pool.parallel_for(x.size(0), [&](int64_t t0, int64_t t1) {
    float cos_table[kMaxRotaryDim / 2], sin_table[kMaxRotaryDim / 2];
    for (int64_t t = t0; t < t1; ++t) {
      const float position = static_cast<float>(positions[static_cast<size_t>(t)]);
      for (int64_t i = 0; i < half; ++i) {
        // transformers: inv_freq = 1 / theta ** (arange(0, dim, 2) / dim), all f32; angle = position * inv_freq.
        const float angle = position * rope_inv_freq(params, i);
        cos_table[i] = std::cos(angle);
        sin_table[i] = std::sin(angle);
      }
      float* row = x.ptr<float>() + t * x.stride(0);
      for (int64_t h = 0; h < heads; ++h) {
        float* head = row + h * hd;
        for (int64_t i = 0; i < half; ++i) {
          float* a = head + i * first_step;
          float* b = a + second_offset;
          const float xa = *a, xb = *b;
          *a = xa * cos_table[i] - xb * sin_table[i];
          *b = xb * cos_table[i] + xa * sin_table[i];
        }
      }
    }
  });
}

}  // namespace strata::kernels::cpu
