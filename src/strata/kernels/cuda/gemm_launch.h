// The CUDA GEMM's own kernels as launchers, for cuda/gemm.cpp: the skinny kernel (gemm_skinny.cu) and the
// small passes around cuBLAS (gemm_support.cu). Plain C++: device pointers, strides in elements, the
// stream as void*. Each launcher enqueues one kernel on `stream` (nothing for an empty problem), never
// allocates or synchronises, and reports a bad launch through strata::cuda::check_last_error.
#pragma once

#include <cstdint>

#include "strata/core/dtype.h"

namespace strata::kernels::cuda {

// An RMSNorm applied to x as the skinny kernel reads it, so a decode step needs no norm kernel and no
// round trip of the normed row through memory: the GEMM multiplies x'[m, k] = v·rstd(m, g)·norm[k]
// (·silu(z[m, k]) with gate_after), v = x (·silu(z) when z is given and not gate_after), rstd =
// 1 / sqrt(Σ_{k in g} v² / group_size + eps) over the group g = k / group_size — the formulas of
// kernels/norm.h. The kernel norms its tile's rows into shared memory first (m·k floats, at most
// kMaxPrologueBytes), then multiplies from there. Only the skinny kernel takes it, for m ≤ 2, with 16-byte
// aligned operands, k and group_size multiples of 8 and at most kMaxNormGroups groups (gemm_normed in
// cuda/gemm.cpp checks, else kernels/norm_gemm.cpp runs the norm kernel and the GEMM apart).
constexpr int kMaxNormGroups = 8;
constexpr int64_t kMaxPrologueBytes = 48 * 1024;  // the normed rows, staged in (dynamic) shared memory
struct NormPrologue {
  const float* norm = nullptr;  // [k] f32; nullptr: x is used as it is
  const float* z = nullptr;     // the gate rows [m, k] (row stride ldz); nullptr: plain RMSNorm
  int64_t ldz = 0;
  bool gate_after = false;      // norm_before_gate: silu(z) multiplies after the norm
  int64_t group_size = 0;
  int groups = 1;
  float eps = 0.0f;
};

// A GEMM flattened: y[m, n] (+)= Σ_k x[m, k] · weight[n, k] (+ bias[n]), m, n, k ≥ 1.
struct GemmOperands {
  const float* x = nullptr;
  int64_t ldx = 0;
  const void* weight = nullptr;  // f32, bf16 or f16 [n, k]
  DType weight_dtype = DType::bf16;
  int64_t ldw = 0;
  float* y = nullptr;
  int64_t ldy = 0;
  const void* bias = nullptr;  // nullptr: none; else f32, bf16 or f16, element j at bias[j * bias_stride]
  DType bias_dtype = DType::f32;
  int64_t bias_stride = 1;
  int64_t m = 0, n = 0, k = 0;
  bool accumulate = false;
  NormPrologue prologue;  // skinny kernel only
};

// The skinny kernel, for any m (tiles of up to 8 tokens), n, k and strides: y = (accumulate ? y : 0) +
// bias + x·Wᵀ in one pass over the weight.
void launch_gemm_skinny(const GemmOperands& g, void* stream);

// x split for the tensor cores: hi = rn(x) into dst rows [0, rows), lo = rn(x − hi) into rows
// [rows, 2·rows) (round to nearest even), so hi + lo carries x to about 2^-17 relative in bf16.
void launch_split_rows(const float* x, int64_t ldx, int64_t rows, int64_t cols, void* dst, DType dst_dtype,
                       int64_t ld_dst, void* stream);

// x rounded once (to nearest even) into dst rows [0, rows): the operand of a many-row product.
void launch_round_rows(const float* x, int64_t ldx, int64_t rows, int64_t cols, void* dst, DType dst_dtype,
                       int64_t ld_dst, void* stream);

// y[i, j] = (keep_y ? y[i, j] : 0) + (c[i, j] + c[rows + i, j]): the two halves of a split product summed.
void launch_add_halves(float* y, int64_t ldy, int64_t rows, int64_t cols, const float* c, int64_t ldc,
                       bool keep_y, void* stream);

// y[i, j] = (accumulate ? y[i, j] : 0) + (bias ? bias[j · bias_stride] : 0) for i < rows, j < cols: the
// part of the GEMM that cuBLAS then adds its product to (beta = 1), and the whole GEMM when k == 0.
void launch_bias_rows(float* y, int64_t ldy, int64_t rows, int64_t cols, const void* bias, DType bias_dtype,
                      int64_t bias_stride, bool accumulate, void* stream);

}  // namespace strata::kernels::cuda
