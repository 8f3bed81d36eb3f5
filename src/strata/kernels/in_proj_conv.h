// The front of a Mamba2 decode step — [RMSNorm →] in_proj → causal conv of one token per sequence — as
// one call, so a backend can fuse it: y = [norm](x)·weightᵀ (+ bias), then the conv decode of y's columns
// [col0, col0 + conv.conv_dim) into conv_out, each slot's window shifted (kernels/conv1d.h). On CUDA the
// skinny GEMM does the norm, the product and the conv in one kernel when it takes the shapes (one or two
// tokens, an f32 conv pool, aligned operands), or the GEMM and the conv after a norm kernel; otherwise,
// and on the CPU, it runs rms_norm, gemm and causal_conv1d_decode, exactly as calling them would. y's
// conv columns are then unspecified.
#pragma once

#include <cstdint>

#include "strata/core/exec.h"
#include "strata/core/tensor.h"
#include "strata/kernels/conv1d.h"
#include "strata/kernels/gemm.h"
#include "strata/kernels/norm.h"
#include "strata/kernels/varlen.h"

namespace strata::kernels {

// The optional norm in front: x is the residual, `normed` [T, K] f32 scratch where it is not fused.
struct InProjNorm {
  const Tensor* weight = nullptr;
  float eps = 1e-5f;
  Tensor normed;
};

// batch: one token per sequence (decode, not verification); conv_state f32 or bf16 (bf16 is not fused).
void in_proj_conv_decode(const Tensor& x, const InProjNorm* norm, const Tensor& weight, Tensor& y,
                         const GemmParams& params, const CausalConv1dParams& conv, int64_t col0,
                         const Tensor& conv_weight, const Tensor& conv_bias, const VarlenBatch& batch,
                         const Tensor& conv_state, const Tensor& conv_out, const Exec& exec);

}  // namespace strata::kernels
