#include "strata/kernels/copy.h"

#include "strata/kernels/cpu/copy.h"
#include "strata/kernels/dispatch.h"

namespace strata::kernels {

void copy_to_f32(const Tensor& src, const Tensor& dst, const Exec& exec) {
  detail::device_for("copy_to_f32", exec, {&src, &dst});
  cpu::copy_to_f32(src, dst);
}

}  // namespace strata::kernels
