// The grouped expert GEMM of a small MoE step on CUDA: for every expert e, the gathered rows
// [expert_start[e], expert_start[e+1]) of x times expert e's weight, y[r] = x[r] · W_eᵀ — one launch for
// all experts, reading the expert boundaries on the device. That is what lets an MoE decode step run
// without reading the grouping back to the host, and so be captured in a CUDA graph (the per-expert
// cuBLAS path of a large prefill reads them back). Plain C++; the kernel is moe_expert_gemm.cu.
#pragma once

#include <cstdint>

#include "strata/core/dtype.h"

namespace strata::kernels::cuda {

struct ExpertGemm {
  const float* x = nullptr;  // gathered rows [rows, k], row stride ldx
  int64_t ldx = 0;
  const void* const* weights = nullptr;  // device array of E device pointers, each [n, k] row stride ldw
  DType weight_dtype = DType::bf16;      // f32, bf16 or f16, the same for every expert
  int64_t ldw = 0;
  const int64_t* expert_start = nullptr;  // device i64 [E + 1]
  int64_t experts = 0, n = 0, k = 0;
  float* y = nullptr;  // [rows, n], row stride ldy; rows outside every expert's range are not written
  int64_t ldy = 0;
};

// Enqueues the product on `stream`; grid from experts and n only (graph-safe). No bias, no accumulate.
void launch_expert_gemm(const ExpertGemm& g, void* stream);

}  // namespace strata::kernels::cuda
