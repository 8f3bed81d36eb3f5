// Rotary position embedding, applied in place to per-token q or k rows [T, heads*head_dim]: the NeoX/HF
// "rotate_half" pairing (d, d + rotary_dim/2) or the GPT-J interleaved pairing (2i, 2i+1), over the
// first rotary_dim dimensions of every head. Nemotron-H uses none; Granite and Falcon-H1 use NeoX.
#pragma once

#include <cstdint>
#include <span>

#include "strata/core/tensor.h"
#include "strata/core/thread_pool.h"
#include "strata/kernels/rope.h"
#include "strata/kernels/varlen.h"

namespace strata::kernels::cpu {

// The operands are declared with the neutral entry point (kernels/rope.h).
using kernels::kMaxRotaryDim;
using kernels::RopeStyle;
using kernels::RopeParams;

// x: f32 [T, num_heads*head_dim], unit column stride, row stride >= width; positions: one per row,
// >= 0. Throws strata::Error naming the field.
using kernels::check_rope;  // declared with the neutral entry point

// For token t at position p and pair (a, b) with frequency index i:
//   x[a] <- x[a] cos(p w_i) - x[b] sin(p w_i),  x[b] <- x[b] cos(p w_i) + x[a] sin(p w_i)
// NeoX: a = i, b = i + rotary_dim/2; GPT-J: a = 2i, b = 2i+1; w_i = theta^(-2i/rotary_dim).
// Angles follow transformers' float32 arithmetic: w_i and p·w_i are rounded to f32 before cos/sin,
// so long positions carry the same phase error as the reference rather than a "better" one.
void apply_rope(const RopeParams& params, const Tensor& x, std::span<const int64_t> positions,
                ThreadPool& pool);

using kernels::rope_positions;  // host arithmetic, shared by every device (kernels/rope.h)

}  // namespace strata::kernels::cpu
