// The inner GEMM kernels behind strata::kernels::gemm, on raw pointers and one column range each.
// Internal to gemm.cpp (tests also call them to pin a kernel); each function computes the output columns
// [n_begin, n_end) for all M rows, so threads given disjoint ranges never share a y element.
#pragma once

#include <cstdint>

#include "strata/core/dtype.h"

namespace strata::kernels::detail {

struct GemmProblem {
  const float* x = nullptr;  // [M, K], row stride ldx
  int64_t ldx = 0;
  const void* weight = nullptr;  // [N, K] in weight_dtype, row stride ldw
  DType weight_dtype = DType::f32;
  int64_t ldw = 0;
  float* y = nullptr;  // [M, N], row stride ldy
  int64_t ldy = 0;
  int64_t m = 0, n = 0, k = 0;
  const void* bias = nullptr;  // [N] in bias_dtype with stride bias_stride; nullptr for none
  DType bias_dtype = DType::f32;
  int64_t bias_stride = 1;
  bool accumulate = false;

  float bias_at(int64_t col) const {
    if (bias == nullptr) return 0.0f;
    const int64_t i = col * bias_stride;
    switch (bias_dtype) {
      case DType::bf16: return bf16_to_f32(static_cast<const uint16_t*>(bias)[i]);
      case DType::f16: return f16_to_f32(static_cast<const uint16_t*>(bias)[i]);
      default: return static_cast<const float*>(bias)[i];
    }
  }
};

// Whether this binary was built with, and this CPU runs, the AVX-512 kernels.
bool avx512_available();

void gemm_rows_avx512(const GemmProblem& p, int64_t n_begin, int64_t n_end);
// M <= 32 (more rows fall back to rows): x rows transposed into the lanes of 16-wide vectors (padded
// with zeros to 16 or 32 rows), each widened weight element broadcast into the FMAs.
void gemm_row_lanes_avx512(const GemmProblem& p, int64_t n_begin, int64_t n_end);
void gemm_panels_avx512(const GemmProblem& p, int64_t n_begin, int64_t n_end);
void gemm_portable(const GemmProblem& p, int64_t n_begin, int64_t n_end);
void gemm_openblas(const GemmProblem& p, int64_t n_begin, int64_t n_end);

// Column granularity each kernel wants its range aligned to (a register tile's width).
constexpr int64_t kRowsTileCols = 8;
constexpr int64_t kPanelCols = 32;
constexpr int64_t kRowLanesTileCols = 12;
constexpr int64_t kRowLanesMaxM = 32;

}  // namespace strata::kernels::detail
