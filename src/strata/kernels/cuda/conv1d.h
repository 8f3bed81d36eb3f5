// Depthwise causal conv1d (+bias, +SiLU) on CUDA: the same semantics and parameters as kernels/conv1d.h,
// f32 math over an f32 or bf16 conv state pool, on the Exec's stream (no allocation, no sync).
// Batch metadata is read only through batch.device; the host spans only size the grids.
#pragma once

#include "strata/core/exec.h"
#include "strata/core/tensor.h"
#include "strata/kernels/conv1d.h"
#include "strata/kernels/varlen.h"

namespace strata::kernels::cuda {

// Two launches: the outputs (reading the old slot rows), then the new slot rows (so no sequence's state
// is overwritten before its first tokens read it). Assumes check_causal_conv1d passed and batch.device
// is filled in (the neutral entry point checks the latter); never throws.
void causal_conv1d_prefill(const CausalConv1dParams& params, const Tensor& x, const Tensor& weight,
                           const Tensor& bias, const VarlenBatch& batch, const Tensor& conv_state,
                           const Tensor& out, const Exec& exec);

// One launch: a thread per (sequence, channel) walks the sequence's 1..1+S tokens with the window in
// registers, writing `intermediate` [i, j] after token j when present; negative slots give zero rows.
void causal_conv1d_decode(const CausalConv1dParams& params, const Tensor& x, const Tensor& weight,
                          const Tensor& bias, const VarlenBatch& batch, const Tensor& conv_state,
                          const Tensor& intermediate, const Tensor& out, const Exec& exec);

}  // namespace strata::kernels::cuda
