// The CUDA twin of kernels::paged_attention (same operands, same semantics as cpu/attention.h): stores the
// new keys and values into their paged blocks, then attends every new token causally over its sequence.
// Plain C++; the kernels live in attention*.cu. Launches on exec.cuda().stream() only; allocates nothing.
#pragma once

#include "strata/core/exec.h"
#include "strata/core/tensor.h"
#include "strata/kernels/attention.h"
#include "strata/kernels/varlen.h"

namespace strata::kernels::cuda {

// Reads batch metadata only through batch.device and start_positions.device (which must be set);
// the host spans give grid sizes. Split-KV partials of the decode path live in exec.cuda().gemm_scratch().
void paged_attention(const PagedAttentionParams& params, const VarlenBatch& batch,
                     Mirrored<int64_t> start_positions, const PagedAttentionInputs& inputs,
                     const PagedKv& kv, const Tensor& out, const Exec& exec);

}  // namespace strata::kernels::cuda
