// The element-wise row updates of kernels/elementwise.h on CUDA: same parameters and semantics, f32 math
// written as the CPU loops write it, on the Exec's stream (no allocation, no sync). Each call is one
// launch of row_map (a thread per 4 columns when rows are 16-byte aligned, else per column); an empty
// shape launches nothing. Operands are assumed checked by the neutral entry points.
#pragma once

#include "strata/core/exec.h"
#include "strata/core/tensor.h"

namespace strata::kernels::cuda {

void add_scaled(const Tensor& out, const Tensor& x, float alpha, const Exec& exec);
void scale(const Tensor& x, float alpha, const Exec& exec);
void copy_scaled(const Tensor& out, const Tensor& x, float alpha, const Exec& exec);
void scale_columns(const Tensor& x, const Tensor& column_scale, const Exec& exec);

}  // namespace strata::kernels::cuda
