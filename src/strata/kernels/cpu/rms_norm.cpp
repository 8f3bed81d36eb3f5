#include "strata/kernels/cpu/rms_norm.h"

#include <cmath>

#include "strata/core/error.h"
#include "strata/kernels/cpu/activations.h"

namespace strata::kernels::cpu {
namespace {

// out[c] = y[c]·silu(z[c]) (z == nullptr: out[c] = y[c]); returns the sum of out[c]².
float gate_and_square(const float* y, const float* z, int64_t n, float* out) {
  int64_t c = 0;
  float sum = 0.0f;
#if defined(__AVX512F__)
  __m512 acc = _mm512_setzero_ps();
  for (; c + 16 <= n; c += 16) {
    __m512 v = _mm512_loadu_ps(y + c);
    if (z) v = _mm512_mul_ps(v, silu_ps(_mm512_loadu_ps(z + c)));
    _mm512_storeu_ps(out + c, v);
    acc = _mm512_fmadd_ps(v, v, acc);
  }
  sum = hsum_ps(acc);
#endif
  for (; c < n; ++c) {
    const float v = z ? y[c] * silu(z[c]) : y[c];
    out[c] = v;
    sum = std::fma(v, v, sum);
  }
  return sum;
}

void scale(float* out, const float* weight, float rstd, int64_t n) {
  int64_t c = 0;
#if defined(__AVX512F__)
  const __m512 vrstd = _mm512_set1_ps(rstd);
  for (; c + 16 <= n; c += 16)
    _mm512_storeu_ps(out + c, _mm512_mul_ps(_mm512_mul_ps(_mm512_loadu_ps(out + c), vrstd), _mm512_loadu_ps(weight + c)));
#endif
  for (; c < n; ++c) out[c] = out[c] * rstd * weight[c];
}

// out[c] *= silu(z[c]).
void gate_after(float* out, const float* z, int64_t n) {
  int64_t c = 0;
#if defined(__AVX512F__)
  for (; c + 16 <= n; c += 16)
    _mm512_storeu_ps(out + c, _mm512_mul_ps(_mm512_loadu_ps(out + c), silu_ps(_mm512_loadu_ps(z + c))));
#endif
  for (; c < n; ++c) out[c] = out[c] * silu(z[c]);
}

// Shared body: rows of width `width` split into groups of group_size; z may be absent (plain RMSNorm).
// gate_last: z multiplies after the norm instead of before it.
void normalize_rows(const Tensor& y, const Tensor* z, const Tensor& weight, const Tensor& out, int64_t width,
                    int64_t group_size, float eps, bool gate_last, ThreadPool& pool) {
  const int64_t rows = y.shape[0];
  pool.parallel_for(rows, [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; ++t) {
      const float* y_row = y.ptr<float>() + t * y.stride(0);
      const float* z_row = z ? z->ptr<float>() + t * z->stride(0) : nullptr;
      float* out_row = out.ptr<float>() + t * out.stride(0);
      for (int64_t c0 = 0; c0 < width; c0 += group_size) {
        const float* gate_first = z_row && !gate_last ? z_row + c0 : nullptr;
        const float sum = gate_and_square(y_row + c0, gate_first, group_size, out_row + c0);
        const float rstd = 1.0f / std::sqrt(sum / static_cast<float>(group_size) + eps);
        scale(out_row + c0, weight.ptr<float>() + c0, rstd, group_size);
        if (z_row && gate_last) gate_after(out_row + c0, z_row + c0, group_size);
      }
    }
  });
}

// Shapes and strides only (never the data): the operands may live on a GPU. Every operand must be on
// `device`, the first operand's.
void check_rows(std::string_view kernel, std::string_view name, const Tensor& t, int64_t rows, int64_t width,
                Device device) {
  if (!t.data || t.dtype != DType::f32 || t.ndim != 2 || t.device != device || t.shape[1] != width ||
      (rows >= 0 && t.shape[0] != rows))
    fail("{}: {} is {}, expected f32[{}, {}] on the {}", kernel, name, t.data ? t.describe() : "absent",
         rows >= 0 ? fmt::format("{}", rows) : "T", width, device_name(device));
  if (t.stride(1) != 1) fail("{}: {} must have contiguous channels, got stride {}", kernel, name, t.stride(1));
}

void check_weight(std::string_view kernel, const Tensor& weight, int64_t width, Device device) {
  if (!weight.data || weight.dtype != DType::f32 || weight.ndim != 1 || weight.shape[0] != width ||
      weight.stride(0) != 1 || weight.device != device)
    fail("{}: weight is {}, expected contiguous f32[{}] on the {}", kernel, weight.data ? weight.describe() : "absent",
         width, device_name(device));
}

}  // namespace

}  // namespace strata::kernels::cpu

// Operand checks are device-neutral: one definition, declared in the neutral header. It shares this
// file's helpers.
namespace strata::kernels {

using namespace cpu;

void check_gated_rms_norm(const GatedRmsNormParams& params, const Tensor& y, const Tensor& z,
                          const Tensor& weight, const Tensor& out) {
  const int64_t width = y.ndim == 2 ? y.shape[1] : 0;
  check_rows("gated_rms_norm", "y", y, -1, width, y.device);
  check_rows("gated_rms_norm", "z", z, y.shape[0], width, y.device);
  check_rows("gated_rms_norm", "out", out, y.shape[0], width, y.device);
  check_weight("gated_rms_norm", weight, width, y.device);
  if (params.n_groups <= 0 || width % params.n_groups != 0)
    fail("gated_rms_norm: width {} is not divisible into n_groups = {}", width, params.n_groups);
  if (!(params.eps > 0.0f)) fail("gated_rms_norm: eps must be positive, got {}", params.eps);
}

}  // namespace strata::kernels

namespace strata::kernels::cpu {

void gated_rms_norm(const GatedRmsNormParams& params, const Tensor& y, const Tensor& z, const Tensor& weight,
                    const Tensor& out, ThreadPool& pool) {
  normalize_rows(y, &z, weight, out, y.shape[1], y.shape[1] / params.n_groups, params.eps, params.norm_before_gate,
                 pool);
}

}  // namespace strata::kernels::cpu

// Operand checks are device-neutral: one definition, declared in the neutral header. It shares this
// file's helpers.
namespace strata::kernels {

using namespace cpu;

void check_rms_norm(const RmsNormParams& params, const Tensor& x, const Tensor& weight, const Tensor& out) {
  const int64_t width = x.ndim == 2 ? x.shape[1] : 0;
  check_rows("rms_norm", "x", x, -1, width, x.device);
  check_rows("rms_norm", "out", out, x.shape[0], width, x.device);
  check_weight("rms_norm", weight, width, x.device);
  if (width == 0) fail("rms_norm: x has no channels");
  if (!(params.eps > 0.0f)) fail("rms_norm: eps must be positive, got {}", params.eps);
}

}  // namespace strata::kernels

namespace strata::kernels::cpu {

void rms_norm(const RmsNormParams& params, const Tensor& x, const Tensor& weight, const Tensor& out,
              ThreadPool& pool) {
  normalize_rows(x, nullptr, weight, out, x.shape[1], x.shape[1], params.eps, false, pool);
}

}  // namespace strata::kernels::cpu
