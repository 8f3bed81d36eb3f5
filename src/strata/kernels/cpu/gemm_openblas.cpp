// GEMM through OpenBLAS sgemm, kept as a measured alternative to our own kernels (bench/gemm_bench).
// f32 weights go to sgemm as they are; bf16/f16 weights are widened one block at a time into a 64 KiB
// stack scratch, never as a whole. Expects OpenBLAS single-threaded: the caller's pool owns the cores.
#include "strata/kernels/cpu/gemm_kernels.h"

#include <algorithm>

#include <cblas.h>

namespace strata::kernels::detail {

namespace {

constexpr int64_t kBlockCols = 64;
constexpr int64_t kBlockDepth = 256;

void add_bias(const GemmProblem& p, int64_t n_begin, int64_t n_end) {
  if (p.bias == nullptr) return;
  for (int64_t i = 0; i < p.m; ++i)
    for (int64_t j = n_begin; j < n_end; ++j) p.y[i * p.ldy + j] += p.bias_at(j);
}

}  // namespace

void gemm_openblas(const GemmProblem& p, int64_t n_begin, int64_t n_end) {
  const int64_t cols = n_end - n_begin;
  if (cols <= 0) return;
  if (p.weight_dtype == DType::f32) {
    const float* w = static_cast<const float*>(p.weight) + n_begin * p.ldw;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<blasint>(p.m), static_cast<blasint>(cols),
                static_cast<blasint>(p.k), 1.0f, p.x, static_cast<blasint>(p.ldx), w,
                static_cast<blasint>(p.ldw), p.accumulate ? 1.0f : 0.0f, p.y + n_begin,
                static_cast<blasint>(p.ldy));
    add_bias(p, n_begin, n_end);
    return;
  }
  alignas(64) float block[kBlockCols * kBlockDepth];
  const uint16_t* w = static_cast<const uint16_t*>(p.weight);
  const bool bf16 = p.weight_dtype == DType::bf16;
  for (int64_t n0 = n_begin; n0 < n_end; n0 += kBlockCols) {
    const int64_t nb = std::min(kBlockCols, n_end - n0);
    for (int64_t k0 = 0; k0 < p.k; k0 += kBlockDepth) {
      const int64_t kb = std::min(kBlockDepth, p.k - k0);
      for (int64_t j = 0; j < nb; ++j) {
        const uint16_t* row = w + (n0 + j) * p.ldw + k0;
        float* out = block + j * kb;
        if (bf16)
          for (int64_t k = 0; k < kb; ++k) out[k] = bf16_to_f32(row[k]);
        else
          for (int64_t k = 0; k < kb; ++k) out[k] = f16_to_f32(row[k]);
      }
      const float beta = (k0 > 0 || p.accumulate) ? 1.0f : 0.0f;
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<blasint>(p.m), static_cast<blasint>(nb),
                  static_cast<blasint>(kb), 1.0f, p.x + k0, static_cast<blasint>(p.ldx), block,
                  static_cast<blasint>(kb), beta, p.y + n0, static_cast<blasint>(p.ldy));
    }
  }
  add_bias(p, n_begin, n_end);
}

}  // namespace strata::kernels::detail
