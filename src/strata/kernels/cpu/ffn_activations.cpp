#include "strata/kernels/cpu/ffn_activations.h"

#include <cmath>

#include "strata/kernels/cpu/activations.h"

namespace strata::kernels::cpu {

void relu2_inplace(float* x, int64_t n) {
  int64_t i = 0;
#if defined(__AVX512F__)
  const __m512 zero = _mm512_setzero_ps();
  for (; i + 16 <= n; i += 16) {
    // MAXPS returns its second operand when either is NaN: x second, so NaN propagates like torch.relu.
    const __m512 r = _mm512_max_ps(zero, _mm512_loadu_ps(x + i));
    _mm512_storeu_ps(x + i, _mm512_mul_ps(r, r));
  }
#endif
  for (; i < n; ++i) {
    // Written as a comparison (not std::max) so NaN propagates as torch.relu does.
    const float r = x[i] < 0.0f ? 0.0f : x[i];
    x[i] = r * r;
  }
}

void silu_gate_inplace(float* up, const float* gate, int64_t n) {
  int64_t i = 0;
#if defined(__AVX512F__)
  for (; i + 16 <= n; i += 16)
    _mm512_storeu_ps(up + i, _mm512_mul_ps(silu_ps(_mm512_loadu_ps(gate + i)), _mm512_loadu_ps(up + i)));
#endif
  for (; i < n; ++i) up[i] = silu(gate[i]) * up[i];
}

void gelu_inplace(float* x, int64_t n) {
  // Scalar erf: GELU appears only in small dense MLPs of some families, never on the MoE hot path.
  constexpr float kInvSqrt2 = 0.70710678118654752f;
  for (int64_t i = 0; i < n; ++i) x[i] = 0.5f * x[i] * (1.0f + std::erf(x[i] * kInvSqrt2));
}

void gelu_gate_inplace(float* up, const float* gate, int64_t n) {
  constexpr float kInvSqrt2 = 0.70710678118654752f;
  for (int64_t i = 0; i < n; ++i) up[i] = 0.5f * gate[i] * (1.0f + std::erf(gate[i] * kInvSqrt2)) * up[i];
}

void ffn_activation(FfnActivation activation, const Tensor& h, const Tensor& gate, ThreadPool& pool) {
  // Activations on fewer elements than this run inline: waking the pool would cost more.
  constexpr int64_t kInlineElements = 1 << 16;
  const int64_t rows = h.size(0), width = h.size(1);
  const auto run = [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      float* row = h.ptr<float>() + r * h.stride(0);
      switch (activation) {
        case FfnActivation::relu2:
          relu2_inplace(row, width);
          break;
        case FfnActivation::gelu:
          gelu_inplace(row, width);
          break;
        case FfnActivation::silu_gated:
          silu_gate_inplace(row, gate.ptr<const float>() + r * gate.stride(0), width);
          break;
        case FfnActivation::gelu_gated:
          gelu_gate_inplace(row, gate.ptr<const float>() + r * gate.stride(0), width);
          break;
      }
    }
  };
  if (rows * width < kInlineElements)
    run(0, rows);
  else
    pool.parallel_for(rows, run);
}

}  // namespace strata::kernels::cpu
