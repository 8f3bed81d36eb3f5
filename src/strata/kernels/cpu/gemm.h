// The CPU gemm behind kernels/gemm.h: y[M,N] = x[M,K] · weightᵀ (+ bias[N]) (+ y), the projection of every linear layer.
// The weight is nn.Linear's [N,K] in its stored dtype (f32, bf16, f16) and is never upconverted as a
// whole; products accumulate in fp32. Work is split across the ThreadPool by output column (weight row).
#pragma once

#include <cstdint>

#include "strata/core/tensor.h"
#include "strata/core/thread_pool.h"
#include "strata/kernels/gemm.h"

namespace strata::kernels::cpu {

// Checks shapes, dtypes and strides; throws strata::Error naming the offending operand. Requirements:
// x f32 [M,K] with unit column stride (row stride >= K allowed); weight [N,K] f32/bf16/f16 with unit
// column stride; y f32 [M,N] with unit column stride; bias (if any) [N]; all on one device. Reads only
// shapes, strides and pointers, never data, so it checks CUDA operands too (kernels::check_gemm).
void check_gemm(const Tensor& x, const Tensor& weight, const Tensor& y, const GemmParams& params);

// Computes the product. Assumes check_gemm passed; never throws and allocates nothing (scratch is a
// few tens of KiB on each thread's stack). x and y must not overlap.
void gemm(const Tensor& x, const Tensor& weight, Tensor& y, const GemmParams& params, ThreadPool& pool);

// The kernel `automatic` resolves to for this shape on this CPU (for benches and logs).
GemmKernel gemm_kernel_for(int64_t m, DType weight_dtype);
const char* gemm_kernel_name(GemmKernel kernel);

}  // namespace strata::kernels::cpu
