// CPU converting copy behind kernels/copy.h.
#pragma once

#include "strata/kernels/copy.h"

namespace strata::kernels::cpu {

void copy_to_f32(const Tensor& src, const Tensor& dst);

}  // namespace strata::kernels::cpu
