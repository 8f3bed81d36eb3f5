// A norm followed by a GEMM as one call, so a backend can fuse them: y (+)= norm(x)·weightᵀ (+ bias),
// with norm the RMSNorm or the gated RMSNorm of kernels/norm.h. On the GPU a decode-sized product (the
// skinny kernel's token counts) applies the norm while it reads x — no norm kernel, no normed rows in
// memory; everything else (the CPU, prefill, shapes the fused kernel does not take) runs the norm into
// `normed` and then the GEMM, exactly as calling the two would.
//
// x (and z): f32 [T, K] rows; norm_weight: f32 [K]; normed: f32 [T, K] scratch (may alias x; its contents
// afterwards are unspecified: the fused path does not write it); weight, y, params: as kernels::gemm.
#pragma once

#include "strata/core/exec.h"
#include "strata/core/tensor.h"
#include "strata/kernels/gemm.h"
#include "strata/kernels/norm.h"

namespace strata::kernels {

void rms_norm_gemm(const RmsNormParams& norm, const Tensor& x, const Tensor& norm_weight, const Tensor& normed,
                   const Tensor& weight, Tensor& y, const GemmParams& params, const Exec& exec);

void gated_rms_norm_gemm(const GatedRmsNormParams& norm, const Tensor& x, const Tensor& z,
                         const Tensor& norm_weight, const Tensor& normed, const Tensor& weight, Tensor& y,
                         const GemmParams& params, const Exec& exec);

}  // namespace strata::kernels
