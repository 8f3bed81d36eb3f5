#include "strata/kernels/cpu/elementwise.h"

#include "strata/kernels/cpu/parallel_rows.h"

namespace strata::kernels::cpu {


void add_scaled(const Tensor& out, const Tensor& x, float alpha, ThreadPool& pool) {
  const int64_t n = out.size(0), width = out.size(1);
  parallel_rows(pool, n, width, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      float* o = out.ptr<float>() + r * out.stride(0);
      const float* v = x.ptr<const float>() + r * x.stride(0);
      for (int64_t c = 0; c < width; ++c) o[c] += v[c] * alpha;  // as torch: residual + out * multiplier
    }
  });
}

void scale(const Tensor& x, float alpha, ThreadPool& pool) {
  const int64_t n = x.size(0), width = x.size(1);
  parallel_rows(pool, n, width, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      float* v = x.ptr<float>() + r * x.stride(0);
      for (int64_t c = 0; c < width; ++c) v[c] *= alpha;
    }
  });
}

void copy_scaled(const Tensor& out, const Tensor& x, float alpha, ThreadPool& pool) {
  const int64_t n = out.size(0), width = out.size(1);
  parallel_rows(pool, n, width, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      float* o = out.ptr<float>() + r * out.stride(0);
      const float* v = x.ptr<const float>() + r * x.stride(0);
      for (int64_t c = 0; c < width; ++c) o[c] = v[c] * alpha;
    }
  });
}

void scale_columns(const Tensor& x, const Tensor& column_scale, ThreadPool& pool) {
  const int64_t n = x.size(0), width = x.size(1);
  const float* s = column_scale.ptr<const float>();
  parallel_rows(pool, n, width, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      float* v = x.ptr<float>() + r * x.stride(0);
      for (int64_t c = 0; c < width; ++c) v[c] *= s[c];
    }
  });
}

}  // namespace strata::kernels::cpu
