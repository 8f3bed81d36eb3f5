// The CUDA GEMM behind kernels/gemm.h: y[M,N] = x[M,K] · weightᵀ (+ bias[N]) (+ y), the same operands and
// semantics as the CPU twin (x and y f32 with row strides; weight [N,K] f32, bf16 or f16; bias [N] in any
// of those; fp32 accumulation), on the Exec's stream: no allocation beyond the context's GEMM scratch
// (sized by the first eager call of a shape), no synchronisation, so a decode step can be graph-captured.
//
// Two ways to compute it:
//   skinny  our kernel (gemm_skinny.cu): reads each weight element once with 16-byte loads, x stays f32,
//           bias and accumulate fused. For few tokens (decode), where the GEMM is a weight stream.
//   cublas  f32 weights: cublasSgemm (the context's handle is in pedantic math: no TF32, exact f32).
//           bf16/f16 weights: one cuBLASLt matmul with f32 output and compute on the tensor cores, x
//           in the weight's dtype in the GEMM scratch — up to CudaContext::precise_max_rows rows split
//           into two halves (x ≈ hi + lo, 2^-17 in bf16) stacked as 2·M rows (the weight read once)
//           and summed into y; beyond it (prefill) rounded once, as bf16 engines do. For many tokens.
// `automatic` takes skinny up to kSkinnyMaxM tokens (bf16/f16) or kSkinnyMaxMExact tokens (f32), cublas
// beyond. GemmParams::kernel names CPU kernels and is ignored here. The skinny kernel starts loading the
// weight before it waits for the kernel before it (launch.cuh): `weight` must be a model weight, never
// written by a kernel on the stream (every caller passes checkpoint weights uploaded by copies).
#pragma once

#include <cstdint>

#include "strata/core/dtype.h"
#include "strata/core/exec.h"
#include "strata/core/tensor.h"
#include "strata/kernels/conv1d.h"
#include "strata/kernels/gemm.h"
#include "strata/kernels/varlen.h"

namespace strata::kernels::cuda {

enum class GemmVariant : uint8_t { automatic, skinny, cublas };

// Up to this many tokens a bf16/f16 GEMM runs the skinny kernel. Measured with bench/cuda_gemm_bench on
// an H200 (µs per call, skinny / cublas, bf16, mamba2-2.7b; cuBLAS's own figures varied by up to 1.5×
// between two machines):
//   M            1            2            4            8
//   in_proj   16.9 / 21.5  20.2 / 21.5  25.2 / 21.8  34.0 / 21.9   (K=2560, N=10576)
//   out_proj   9.4 / 14.8  11.4 / 14.9  12.7 / 14.9  17.1 / 14.6   (K=5120, N=2560)
//   lm_head   66.2 / 70.9  79.2 / 71.2 102.6 / 71.8 141.9 / 72.1   (K=2560, N=50288)
// cuBLAS holds one time from M = 1 to 64 (its tensor cores are idle at these sizes, the weight stream
// bounds it); the skinny kernel's FMAs and x reads grow with M. Per decode step of the 2.7b model (64 ×
// in_proj + out_proj, one lm_head) skinny wins at M ≤ 2 (M = 1: 1.75 ms against 2.39) and ties at 4.
constexpr int64_t kSkinnyMaxM = 2;

// The same for f32 weights (the exact path): there the skinny kernel beats cublasSgemm up to M = 8 on
// all three shapes (M = 8: 50 / 66, 26 / 54 and 208 / 244 µs) and loses from M = 16. Both are exact f32.
constexpr int64_t kSkinnyMaxMExact = 8;

// Assumes check_gemm passed (all operands on the device). Throws strata::Error only for a failed cuBLAS
// call, a bad launch, or a shape that does not fit cuBLAS's 32-bit sizes.
void gemm(const Tensor& x, const Tensor& weight, Tensor& y, const GemmParams& params, const Exec& exec);

// The same with the variant pinned (benches, tests). `skinny` accepts any M and any weight dtype.
void gemm_with(GemmVariant variant, const Tensor& x, const Tensor& weight, Tensor& y,
               const GemmParams& params, const Exec& exec);

// The GEMM of an RMSNorm'd x (z given: the gated RMSNorm of kernels/norm.h) with the norm folded into
// the skinny kernel (gemm_launch.h's FusedNorm), when `automatic` picks the skinny kernel for x's rows and
// the operands suit it (one norm group, 16-byte aligned, K a multiple of 8); then it returns true.
// Otherwise, or while fused norms are off (the default: see fused_norm_enabled), it does nothing and
// returns false.
// Whether gemm_normed and gemm_front fold norms into the skinny kernel: off by default, as measured slower
// than a norm kernel beside the GEMM (gemm.cpp); STRATA_CUDA_FUSE_NORM=1 in the environment or
// set_fused_norm(true) (tests) turns it on.
bool fused_norm_enabled();
void set_fused_norm(bool enabled);

bool gemm_normed(const Tensor& x, const Tensor* z, bool gate_after, int64_t n_groups, float eps,
                 const Tensor& norm_weight, const Tensor& weight, Tensor& y, const GemmParams& params,
                 const Exec& exec);

// The decode conv to fuse into the skinny GEMM's outputs (kernels/in_proj_conv.h).
struct FusedConv {
  CausalConv1dParams conv;
  int64_t col0 = 0;
  const Tensor* weight = nullptr;
  const Tensor* bias = nullptr;  // absent (no data): none
  const VarlenBatch* batch = nullptr;
  const Tensor* state = nullptr;
  const Tensor* out = nullptr;
};

// y = [rms_norm](x)·weightᵀ (+ bias) and the conv of its columns [col0, col0 + conv_dim) in one skinny
// kernel, when it takes the shapes (the norm as gemm_normed takes it, so only with fused norms on; an f32
// conv pool, K <= 8, one token per sequence with the batch's device arrays); then it returns true.
// Otherwise it does nothing and returns false. STRATA_CUDA_FUSE_CONV=0 in the environment: never.
bool gemm_front(const Tensor& x, const Tensor* norm_weight, float eps, const Tensor& weight, Tensor& y,
                const GemmParams& params, const FusedConv& conv, const Exec& exec);

// What `automatic` resolves to for m tokens of a weight in `weight_dtype`.
GemmVariant gemm_variant_for(int64_t m, DType weight_dtype);
const char* gemm_variant_name(GemmVariant variant);

}  // namespace strata::kernels::cuda
