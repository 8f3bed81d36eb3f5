// Element-wise updates of f32 rows that the multipliers of some families need: out += alpha·x (a part's
// output scaled into the residual stream, Granite's residual_multiplier) and x *= alpha (embedding and
// logits multipliers). Neutral entry points; cpu/elementwise.h has the loops.
#pragma once

#include "strata/core/exec.h"
#include "strata/core/tensor.h"

namespace strata::kernels {

// out[i, :] += alpha · x[i, :]; both f32 [T, W] with unit column stride (row strides >= W).
void add_scaled(const Tensor& out, const Tensor& x, float alpha, const Exec& exec);

// x[i, :] *= alpha; f32 [T, W], unit column stride.
void scale(const Tensor& x, float alpha, const Exec& exec);

}  // namespace strata::kernels
