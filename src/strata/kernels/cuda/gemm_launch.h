// The CUDA GEMM's own kernels as launchers, for cuda/gemm.cpp: the skinny kernel (gemm_skinny.cu) and the
// small passes around cuBLAS (gemm_support.cu). Plain C++: device pointers, strides in elements, the
// stream as void*. Each launcher enqueues one kernel on `stream` (nothing for an empty problem), never
// allocates or synchronises, and reports a bad launch through strata::cuda::check_last_error.
#pragma once

#include <cstdint>

#include "strata/core/dtype.h"

namespace strata::kernels::cuda {

// An RMSNorm of x's whole row folded into the skinny kernel, so a decode step needs no norm kernel and no
// round trip of the normed row through memory. The norm is y = ((accumulate ? y : 0) + bias) +
// rstd(m) · Σ_k v[m, k]·norm[k]·W[n, k] (·silu(z[m, k]) inside the sum with gate_after), v = x (·silu(z)
// when z is given and not gate_after), rstd = 1 / sqrt(Σ_k v² / k + eps) — kernels/norm.h's formulas with
// rstd taken out of the sum. A block's threads read every chunk of x's row once for their products anyway,
// so they sum v² on the way and reduce it with the products: no prologue, no extra pass, no extra barrier
// (a first version normed the tile into shared memory before multiplying; that prologue's round trips
// and barriers, repeated by each of the thousands of 4-row blocks, made decode 1.5x slower than a norm
// kernel plus the GEMM). One group only (the block norm; a gated norm of ngroups = 1), m ≤ 2, 16-byte
// aligned operands, k a multiple of 8 (gemm_normed in cuda/gemm.cpp checks; else kernels/norm_gemm.cpp
// runs the norm kernel and the GEMM apart). Against norm-then-GEMM the sums differ in order: ~1e-7
// relative.
struct FusedNorm {
  const float* norm = nullptr;  // [k] f32; nullptr: x is used as it is
  const float* z = nullptr;     // the gate rows [m, k] (row stride ldz); nullptr: plain RMSNorm
  int64_t ldz = 0;
  bool gate_after = false;      // norm_before_gate: silu(z) multiplies after the norm
  float eps = 0.0f;
};

// The Mamba2 decode conv applied as the skinny kernel writes its outputs (in_proj of one token per
// sequence): output columns [col0, col0 + channels) are the conv's inputs (xBC). For each, the kernel
// convolves the output value with the slot's K-1 previous inputs exactly as the conv decode kernel does
// (bias, taps in order, one fma each, then SiLU), writes the result to out[m, c] and shifts the slot's
// window (f32 pools only). Row m is sequence m's only token; slot < 0 (padding) writes 0 and leaves the
// pool alone; has_initial 0 reads a zero window. y's own columns there are not written.
struct ConvEpilogue {
  int64_t col0 = 0, channels = 0;  // channels 0: no epilogue
  int width = 0;                   // K, 2..8
  const float* weight = nullptr;   // [channels, K] with row stride weight_stride
  int64_t weight_stride = 0;
  const float* bias = nullptr;     // nullptr: none
  float* state = nullptr;          // [slots, K-1, channels] pool
  int64_t state_slot_stride = 0, state_row_stride = 0;
  float* out = nullptr;            // [m, channels]
  int64_t out_stride = 0;
  const int32_t* slots = nullptr;
  const uint8_t* has_initial = nullptr;
  bool silu = true;
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
  FusedNorm norm;         // skinny kernel only
  ConvEpilogue conv;      // skinny kernel only
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
