// The chunked SSD scan (Mamba2 prefill) on CUDA: the same semantics and parameters as kernels::ssd_scan
// (kernels/ssd.h), f32 throughout, in five phases on the Exec's stream (see ssd_kernels.h). Scratch is
// the caller's device workspace of ssd_workspace_bytes(..., Device::cuda) bytes; no allocation, no sync.
#pragma once

#include <cstddef>
#include <span>

#include "strata/core/exec.h"
#include "strata/core/tensor.h"
#include "strata/kernels/ssd.h"
#include "strata/kernels/varlen.h"

namespace strata::kernels::cuda {

// Reads batch metadata only through batch.device (host spans size the grids and locate captures).
// Throws strata::Error, before launching anything, when the workspace is too small or the batch has no
// device arrays; otherwise assumes check_ssd_scan passed.
void ssd_scan(const SsdParams& params, const SsdInputs& inputs, const VarlenBatch& batch, Tensor ssm_states,
              Tensor y, std::span<const SsdCapture> captures, void* workspace, size_t workspace_bytes,
              const Exec& exec);

}  // namespace strata::kernels::cuda
