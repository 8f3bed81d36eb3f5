// Element-wise updates of f32 rows that the multipliers of some families need: out += alpha·x (a part's
// output scaled into the residual stream, Granite's residual_multiplier), x *= alpha (embedding and
// logits multipliers), out = alpha·x (a part's scaled input, Falcon-H1's attention/SSM input
// multipliers) and x[:, c] *= column_scale[c] (Falcon-H1's per-segment multipliers on the Mamba2
// in_proj output). Neutral entry points; cpu/elementwise.h has the loops.
#pragma once

#include "strata/core/exec.h"
#include "strata/core/tensor.h"

namespace strata::kernels {

// out[i, :] += alpha · x[i, :]; both f32 [T, W] with unit column stride (row strides >= W).
void add_scaled(const Tensor& out, const Tensor& x, float alpha, const Exec& exec);

// x[i, :] *= alpha; f32 [T, W], unit column stride.
void scale(const Tensor& x, float alpha, const Exec& exec);

// out[i, :] = alpha · x[i, :]; both f32 [T, W], unit column stride, not overlapping.
void copy_scaled(const Tensor& out, const Tensor& x, float alpha, const Exec& exec);

// x[i, c] *= column_scale[c]; x f32 [T, W] (unit column stride), column_scale contiguous f32 [W].
void scale_columns(const Tensor& x, const Tensor& column_scale, const Exec& exec);

}  // namespace strata::kernels
