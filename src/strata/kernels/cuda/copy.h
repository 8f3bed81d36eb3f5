// The converting copy of kernels/copy.h on CUDA: dst (f32, contiguous) ← src (f32/bf16/f16, contiguous),
// element for element, exact (bf16 and f16 widen without rounding), on the Exec's stream (no allocation,
// no sync). One grid-stride launch; an empty tensor launches nothing. Operands are assumed checked by the
// neutral entry point.
#pragma once

#include "strata/core/exec.h"
#include "strata/core/tensor.h"

namespace strata::kernels::cuda {

void copy_to_f32(const Tensor& src, const Tensor& dst, const Exec& exec);

}  // namespace strata::kernels::cuda
