// gemm: y[M,N] = x[M,K] · weightᵀ (+ bias[N]) (+ y), the projection of every linear layer.
// The weight is nn.Linear's [N,K] in its stored dtype (f32, bf16, f16) and is never upconverted as a
// whole; products accumulate in fp32. Dispatches on the Exec's device (kernels/dispatch.h).
#pragma once

#include <cstdint>

#include "strata/core/exec.h"
#include "strata/core/tensor.h"

namespace strata::kernels {

// Which inner kernel runs. `automatic` picks per shape and CPU; the others exist so tests and benches
// can pin one (a pinned AVX-512 kernel on a CPU without AVX-512 falls back to `portable`).
enum class GemmKernel : uint8_t {
  automatic,
  rows,      // AVX-512 dot products over weight rows: reads the weight once; for few tokens (decode).
  panels,    // AVX-512 register-blocked outer products on f32-converted weight panels: prefill.
  portable,  // plain C++ that any compiler vectorises for the target it is given (AVX2, NEON, ...).
  openblas,  // OpenBLAS sgemm per weight block (bf16/f16 blocks upconverted in a small stack scratch).
             // OpenBLAS must then run single-threaded (openblas_set_num_threads(1)): our pool already
             // owns the cores, and nested OpenBLAS threads would oversubscribe them.
};

struct GemmParams {
  const Tensor* bias = nullptr;  // [N] in f32, bf16 or f16; nullptr for none
  bool accumulate = false;       // true: y += x·Wᵀ (+bias); false: y is overwritten
  GemmKernel kernel = GemmKernel::automatic;
};

// Checks shapes, dtypes, strides and devices; throws strata::Error naming the offending operand:
// x f32 [M,K] with unit column stride (row stride >= K allowed); weight [N,K] f32/bf16/f16 with unit
// column stride; y f32 [M,N] with unit column stride; bias (if any) [N].
void check_gemm(const Tensor& x, const Tensor& weight, const Tensor& y, const GemmParams& params);

// Computes the product. Assumes check_gemm passed; allocates nothing. x and y must not overlap.
void gemm(const Tensor& x, const Tensor& weight, Tensor& y, const GemmParams& params, const Exec& exec);

}  // namespace strata::kernels
