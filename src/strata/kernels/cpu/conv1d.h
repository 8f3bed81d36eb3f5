// Depthwise causal conv1d (+bias, +SiLU) over a packed varlen batch, carrying each sequence's last
// K-1 pre-conv input rows in a slot of the conv state pool [num_slots, K-1, conv_dim] (oldest row
// first, channels contiguous). Prefill is parallel over tokens; decode/verify advances 1..S+1 tokens.
#pragma once

#include <cstdint>

#include "strata/core/tensor.h"
#include "strata/core/thread_pool.h"
#include "strata/kernels/conv1d.h"
#include "strata/kernels/varlen.h"

namespace strata::kernels::cpu {

// The operands are declared with the neutral entry point (kernels/conv1d.h).
using kernels::CausalConv1dParams;

// Tensors (a Tensor with data == nullptr means "absent"):
//   x            f32 [T, conv_dim], rows may be strided (a column window of in_proj's output)
//   weight       f32 [conv_dim, K]
//   bias         f32 [conv_dim] or absent
//   conv_state   f32|bf16 [num_slots, K-1, conv_dim]
//   intermediate same dtype as conv_state, [num_sequences, >= max length, K-1, conv_dim], or absent
//   out          f32 [T, conv_dim] (channels contiguous)
// Throws strata::Error naming the offending tensor; the kernels below assume this passed.
// decode = true allows slots < 0 (padding rows) and an intermediate buffer.
using kernels::check_causal_conv1d;  // declared with the neutral entry point

// Prefill: sequence i starts from slot slots[i]'s rows if has_initial_state[i], else from zeros, and
// leaves its last K-1 inputs there (old state rows included when the sequence is shorter than K-1).
// Slots must be distinct within a batch.
void causal_conv1d_prefill(const CausalConv1dParams& params, const Tensor& x, const Tensor& weight,
                           const Tensor& bias, const VarlenBatch& batch, const Tensor& conv_state,
                           const Tensor& out, ThreadPool& pool);

// Decode and speculative verify: same math, one pass per sequence. If `intermediate` is present, row
// [i, j] receives sequence i's conv state after its token j (what a slot would hold after j+1
// one-token calls), so the cache can roll back to any accepted prefix. A negative slot marks a
// padding row: its outputs are zero and no state is touched.
void causal_conv1d_decode(const CausalConv1dParams& params, const Tensor& x, const Tensor& weight,
                          const Tensor& bias, const VarlenBatch& batch, const Tensor& conv_state,
                          const Tensor& intermediate, const Tensor& out, ThreadPool& pool);

}  // namespace strata::kernels::cpu
