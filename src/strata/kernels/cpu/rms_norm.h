// RMSNorm and the Mamba2 gated RMSNorm, out = rmsnorm_per_group(y·silu(z))·weight, on f32 rows.
// Math in f32 as mamba_ssm's layernorm_gated does: gate before the norm, one rstd per group of E/G
// contiguous channels (kernels_models.md §1.5); strata normalises per group for every family.
#pragma once

#include <cstdint>

#include "strata/core/tensor.h"
#include "strata/core/thread_pool.h"
#include "strata/kernels/norm.h"

namespace strata::kernels::cpu {

// The operands are declared with the neutral entry point (kernels/norm.h).
using kernels::GatedRmsNormParams;
using kernels::RmsNormParams;

// y, z: f32 [T, E] (rows may be strided); weight: f32 [E]; out: f32 [T, E], may alias y.
using kernels::check_gated_rms_norm;  // declared with the neutral entry point
void gated_rms_norm(const GatedRmsNormParams& params, const Tensor& y, const Tensor& z, const Tensor& weight,
                    const Tensor& out, ThreadPool& pool);

// x: f32 [T, D] (rows may be strided); weight: f32 [D]; out: f32 [T, D], may alias x.
using kernels::check_rms_norm;  // declared with the neutral entry point
void rms_norm(const RmsNormParams& params, const Tensor& x, const Tensor& weight, const Tensor& out,
              ThreadPool& pool);

}  // namespace strata::kernels::cpu
