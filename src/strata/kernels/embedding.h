// Row gathers at the two ends of a forward: token embeddings into the f32 residual stream, and the rows
// that want logits (one per sequence, or every token) selected before the final norm and LM head.
// Neutral entry points; cpu/embedding.h has the loops.
#pragma once

#include "strata/core/exec.h"
#include "strata/core/tensor.h"

namespace strata::kernels {

// out[t] = f32(table[token_ids[t]]); table [V, D] in f32/bf16/f16 with contiguous rows, token_ids i32
// [T] already checked to lie in [0, V), out f32 [T, D] contiguous. Neither twin range-checks the ids: the
// model checks them on the host before uploading, and the CUDA path cannot read device ids without a
// sync, so it trusts them (an out-of-range id reads out of bounds). CUDA calls check shapes and dtypes.
void embedding_gather(const Tensor& table, const Tensor& token_ids, const Tensor& out, const Exec& exec);

// out[i] = src[rows[i]]; src f32 [R, D] (row stride >= D), rows i64 [n] in [0, R) (trusted, as above),
// out f32 [n, D] contiguous.
void gather_rows(const Tensor& src, const Tensor& rows, const Tensor& out, const Exec& exec);

}  // namespace strata::kernels
