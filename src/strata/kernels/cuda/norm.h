// RMSNorm and the gated RMSNorm on CUDA: the same semantics and parameters as kernels/norm.h (f32 rows,
// one rstd per group, norm_before_gate either way, out may alias the input), on the Exec's stream.
// One block per (row, group); assumes the neutral entry point checked the operands (and that rows·groups
// fits a 1-D grid, 2^31 - 1 blocks); never throws, allocates or synchronises. The norm weight is
// prefetched before the kernel waits for its predecessor (launch.cuh): it must be a model weight, never
// written by a kernel on the stream.
#pragma once

#include "strata/core/exec.h"
#include "strata/core/tensor.h"
#include "strata/kernels/norm.h"

namespace strata::kernels::cuda {

void gated_rms_norm(const GatedRmsNormParams& params, const Tensor& y, const Tensor& z, const Tensor& weight,
                    const Tensor& out, const Exec& exec);

void rms_norm(const RmsNormParams& params, const Tensor& x, const Tensor& weight, const Tensor& out,
              const Exec& exec);

}  // namespace strata::kernels::cuda
