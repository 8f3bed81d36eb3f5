// Element conversion of whole tensors to f32, for the small parameters a layer keeps in f32
// (norm weights, A_log, D, conv weights) and for tests. Hot-path kernels convert in registers instead.
#pragma once

#include "strata/core/tensor.h"

namespace strata {

// Copies a contiguous f32/bf16/f16 tensor into dst (numel floats). Throws strata::Error for other dtypes
// or a non-contiguous tensor, naming `what`.
void convert_to_f32(const Tensor& src, float* dst, const char* what);

}  // namespace strata
