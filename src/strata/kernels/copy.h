// Converting copies between state storage and f32 working buffers: the verify path's per-token states
// (written by the decode kernels in the pool's dtype) into the cache's f32 speculative buffers.
// Neutral entry point.
#pragma once

#include "strata/core/exec.h"
#include "strata/core/tensor.h"

namespace strata::kernels {

// dst (f32, contiguous) ← src (f32/bf16/f16, contiguous), element for element; numel must match.
void copy_to_f32(const Tensor& src, const Tensor& dst, const Exec& exec);

}  // namespace strata::kernels
