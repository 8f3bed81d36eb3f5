#include "strata/kernels/elementwise.h"

#include "strata/core/error.h"
#include "strata/kernels/cpu/elementwise.h"
#include "strata/kernels/dispatch.h"
#if STRATA_HAVE_CUDA
#include "strata/kernels/cuda/elementwise.h"
#endif

namespace strata::kernels {
namespace {

// CUDA calls check the row layout the kernels assume (shapes only): a violation on the device would
// fault asynchronously, far from its cause. The CPU loops trust their callers as before.
[[maybe_unused]] void require_rows(const char* op, const char* name, const Tensor& t, const Tensor* like) {
  if (t.dtype != DType::f32 || t.ndim != 2 || (t.numel() > 0 && (t.stride(1) != 1 || t.data == nullptr)))
    fail("{}: {} is {}, expected f32 [rows, width] with unit column stride", op, name, t.describe());
  if (like != nullptr && (t.size(0) != like->size(0) || t.size(1) != like->size(1)))
    fail("{}: {} is {}, expected the shape of {}", op, name, t.describe(), like->describe());
}

}  // namespace

void add_scaled(const Tensor& out, const Tensor& x, float alpha, const Exec& exec) {
  if (detail::device_of("add_scaled", exec, {&out, &x}) == Device::cuda) {
#if STRATA_HAVE_CUDA
    require_rows("add_scaled", "out", out, nullptr);
    require_rows("add_scaled", "x", x, &out);
    return cuda::add_scaled(out, x, alpha, exec);
#endif
  }
  cpu::add_scaled(out, x, alpha, exec.pool());
}

void scale(const Tensor& x, float alpha, const Exec& exec) {
  if (detail::device_of("scale", exec, {&x}) == Device::cuda) {
#if STRATA_HAVE_CUDA
    require_rows("scale", "x", x, nullptr);
    return cuda::scale(x, alpha, exec);
#endif
  }
  cpu::scale(x, alpha, exec.pool());
}

void copy_scaled(const Tensor& out, const Tensor& x, float alpha, const Exec& exec) {
  if (detail::device_of("copy_scaled", exec, {&out, &x}) == Device::cuda) {
#if STRATA_HAVE_CUDA
    require_rows("copy_scaled", "out", out, nullptr);
    require_rows("copy_scaled", "x", x, &out);
    return cuda::copy_scaled(out, x, alpha, exec);
#endif
  }
  cpu::copy_scaled(out, x, alpha, exec.pool());
}

void scale_columns(const Tensor& x, const Tensor& column_scale, const Exec& exec) {
  const Device device = detail::device_of("scale_columns", exec, {&x, &column_scale});
  if (column_scale.dtype != DType::f32 || column_scale.ndim != 1 || x.ndim != 2 || column_scale.size(0) != x.size(1))
    fail("scale_columns: column_scale is {}, expected f32[{}] (one per column of x {})", column_scale.describe(),
         x.ndim == 2 ? x.size(1) : 0, x.describe());
  if (device == Device::cuda) {
#if STRATA_HAVE_CUDA
    require_rows("scale_columns", "x", x, nullptr);
    if (column_scale.size(0) > 1 && column_scale.stride(0) != 1)
      fail("scale_columns: column_scale must be contiguous (stride {})", column_scale.stride(0));
    return cuda::scale_columns(x, column_scale, exec);
#endif
  }
  cpu::scale_columns(x, column_scale, exec.pool());
}

}  // namespace strata::kernels
