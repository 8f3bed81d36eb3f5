// RMSNorm and the Mamba2 gated RMSNorm, out = rmsnorm_per_group(y·silu(z))·weight (mamba_ssm; with
// norm_before_gate, Falcon-H1's other order: rmsnorm_per_group(y)·weight·silu(z)), on f32 rows.
// Neutral entry points; cpu/rms_norm.h has the math (f32, one rstd per group of E/G channels).
#pragma once

#include <cstdint>

#include "strata/core/exec.h"
#include "strata/core/tensor.h"

namespace strata::kernels {

struct GatedRmsNormParams {
  int64_t n_groups = 1;  // G; E must be a multiple of G
  float eps = 1e-5f;     // mamba_ssm hard-codes 1e-5; other families take it from config
  bool norm_before_gate = false;  // true: normalise y, then multiply by silu(z)
};

struct RmsNormParams {
  float eps = 1e-5f;
};

// y, z: f32 [T, E] (rows may be strided); weight: f32 [E]; out: f32 [T, E], may alias y.
void check_gated_rms_norm(const GatedRmsNormParams& params, const Tensor& y, const Tensor& z,
                          const Tensor& weight, const Tensor& out);
void gated_rms_norm(const GatedRmsNormParams& params, const Tensor& y, const Tensor& z, const Tensor& weight,
                    const Tensor& out, const Exec& exec);

// x: f32 [T, D] (rows may be strided); weight: f32 [D]; out: f32 [T, D], may alias x.
void check_rms_norm(const RmsNormParams& params, const Tensor& x, const Tensor& weight, const Tensor& out);
void rms_norm(const RmsNormParams& params, const Tensor& x, const Tensor& weight, const Tensor& out,
              const Exec& exec);

}  // namespace strata::kernels
