#include "strata/kernels/elementwise.h"

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

}  // namespace strata::kernels
