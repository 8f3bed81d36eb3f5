#include "strata/kernels/elementwise.h"

#include "strata/core/error.h"
#include "strata/kernels/cpu/elementwise.h"
#include "strata/kernels/dispatch.h"

namespace strata::kernels {

void add_scaled(const Tensor& out, const Tensor& x, float alpha, const Exec& exec) {
  detail::device_for("add_scaled", exec, {&out, &x});
  cpu::add_scaled(out, x, alpha, exec.pool());
}

void scale(const Tensor& x, float alpha, const Exec& exec) {
  detail::device_for("scale", exec, {&x});
  cpu::scale(x, alpha, exec.pool());
}

void copy_scaled(const Tensor& out, const Tensor& x, float alpha, const Exec& exec) {
  detail::device_for("copy_scaled", exec, {&out, &x});
  cpu::copy_scaled(out, x, alpha, exec.pool());
}

void scale_columns(const Tensor& x, const Tensor& column_scale, const Exec& exec) {
  detail::device_for("scale_columns", exec, {&x, &column_scale});
  if (column_scale.dtype != DType::f32 || column_scale.ndim != 1 || x.ndim != 2 || column_scale.size(0) != x.size(1))
    fail("scale_columns: column_scale is {}, expected f32[{}] (one per column of x {})", column_scale.describe(),
         x.ndim == 2 ? x.size(1) : 0, x.describe());
  cpu::scale_columns(x, column_scale, exec.pool());
}

}  // namespace strata::kernels
