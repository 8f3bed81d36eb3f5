#include "strata/kernels/cpu/copy.h"

#include "strata/core/convert.h"

namespace strata::kernels::cpu {

// One sequence's state is a short stream: the calling thread is fastest. State pools are float by
// construction (cache/state_shape.h validates them), so the conversion cannot fail here.
void copy_to_f32(const Tensor& src, const Tensor& dst) { convert_to_f32(src, dst.ptr<float>(), "state copy"); }

}  // namespace strata::kernels::cpu
