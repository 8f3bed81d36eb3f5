// Vectorisable exponentials for sampling: every softmax here is exp(logit - max), so arguments are
// never positive. exp_nonpositive is branch-free (GCC vectorises loops over it, unlike a libm call)
// and within ~2 ulp of std::exp on [-87, 0]; below that, and at -inf, it returns exactly 0.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <span>

namespace strata::engine {

inline float exp_nonpositive(float x) {
  // x = n ln2 + r with |r| <= ln2 / 2; n rounded by the 1.5 * 2^23 trick (exact in float).
  constexpr float kShifter = 12582912.0f;
  const float shifted = x * 1.44269504088896341f + kShifter;
  const float n = shifted - kShifter;
  const float r = (x - n * 0.693145751953125f) - n * 1.42860682030941723212e-6f;
  // Taylor series of e^r to degree 7: truncation below 1e-8 relative on |r| <= 0.347.
  float p = 1.0f / 5040.0f;
  p = p * r + 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  // 2^n by building the float's exponent: n is in [-126, 0] wherever the result is kept.
  const uint32_t exponent = std::bit_cast<uint32_t>(shifted) - std::bit_cast<uint32_t>(kShifter);
  const float scale = std::bit_cast<float>((exponent + 127u) << 23);
  // Below -87 (and at -inf, where r is NaN) the value is garbage: zero it with an integer mask,
  // not a select, because GCC will not vectorise a float select under -ftrapping-math.
  const uint32_t keep = 0u - static_cast<uint32_t>(x >= -87.0f);
  return std::bit_cast<float>(std::bit_cast<uint32_t>(p * scale) & keep);
}

// The largest value (-inf for an empty span). Values must not be NaN. Vectorised.
float max_value(std::span<const float> in);

// The sum, accumulated in double. Vectorised.
double sum_of(std::span<const float> in);

// True if no value is NaN or +inf (-inf is allowed: it marks an impossible token). Vectorised.
bool all_below_infinity(std::span<const float> in);

// out[i] = exp(in[i] - shift), for shift >= every in[i]. Returns the sum of out, accumulated in double.
double exp_shifted(std::span<const float> in, float shift, float* out);

// The sum of exp(in[i] - shift), without storing the terms.
double sum_exp_shifted(std::span<const float> in, float shift);

}  // namespace strata::engine
