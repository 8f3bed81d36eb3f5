// The row gathers of kernels/embedding.h on CUDA: same parameters and semantics, on the Exec's stream
// (no allocation, no sync). One block per output row, its threads across the row (4 columns per thread
// with 16-byte stores when rows are aligned); the widening copy is exact, so results equal the CPU's bit
// for bit. Token ids and row indices are read on the device and trusted: they are never range-checked
// here (the model checks token ids on the host before uploading them; gather rows come from the step's
// metadata), and an out-of-range index reads out of bounds. Operands' shapes are checked by the neutral
// entry points; an empty gather launches nothing.
#pragma once

#include "strata/core/exec.h"
#include "strata/core/tensor.h"

namespace strata::kernels::cuda {

void embedding_gather(const Tensor& table, const Tensor& token_ids, const Tensor& out, const Exec& exec);
void gather_rows(const Tensor& src, const Tensor& rows, const Tensor& out, const Exec& exec);

}  // namespace strata::kernels::cuda
