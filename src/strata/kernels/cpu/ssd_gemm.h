// Small single-threaded f32 matrix products for the chunked SSD scan: C (+)= A·B, all row-major with
// leading dimensions, sized for one chunk (Q, P, N up to a few hundred). The causal modes skip the zero or
// unused upper triangle of the scan's Q×Q matrices. No allocation; the caller parallelises around it.
#pragma once

#include <cstdint>

namespace strata::kernels::cpu {

enum class GemmCausal : uint8_t {
  none,
  // A is lower triangular: A[i][kk] == 0 for kk > i. Row i may read A up to the end of its 8-row block,
  // so those entries must hold zeros (not garbage) up to min(k, (i / 8 + 1) * 8).
  k_through_row,
  // Only C[i][j] for j <= i is wanted; entries above the diagonal are left unspecified.
  n_through_row,
};

// C[m×n] = (accumulate ? C : 0) + A[m×k] · B[k×n]. An 8×32 AVX-512 register tile where compiled with
// __AVX512F__, otherwise the portable 4×16 tile (GCC vector extensions: AVX2 ymm, or SSE pairs).
void ssd_gemm(int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* b, int64_t ldb,
              float* c, int64_t ldc, bool accumulate, GemmCausal causal = GemmCausal::none);

// The portable version, always compiled, so tests can hold the AVX-512 path to it.
void ssd_gemm_portable(int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* b,
                       int64_t ldb, float* c, int64_t ldc, bool accumulate,
                       GemmCausal causal = GemmCausal::none);

// out[i] = exp(min(in[i], 0)). The scan only ever needs exp of non-positive arguments (decays), which
// cannot overflow; very negative inputs underflow gracefully to 0.
void ssd_exp_nonpositive(const float* in, float* out, int64_t n);
void ssd_exp_nonpositive_portable(const float* in, float* out, int64_t n);

}  // namespace strata::kernels::cpu
