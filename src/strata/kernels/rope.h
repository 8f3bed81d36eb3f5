// Rotary position embedding, applied in place to per-token q or k rows [T, heads*head_dim]: the NeoX/HF
// "rotate_half" pairing or the GPT-J interleaved pairing, over the first rotary_dim dimensions of every
// head (partial rotary factor = rotary_dim / head_dim). Neutral entry point; cpu/rope.h has the math.
#pragma once

#include <cstdint>
#include <span>

#include "strata/core/exec.h"
#include "strata/core/tensor.h"
#include "strata/kernels/varlen.h"

namespace strata::kernels {

constexpr int64_t kMaxRotaryDim = 512;

enum class RopeStyle : uint8_t { neox, gptj };

struct RopeParams {
  int64_t n_heads = 0;
  int64_t head_dim = 0;
  int64_t rotary_dim = 0;  // even, <= head_dim (and kMaxRotaryDim); dimensions past it pass through
  float theta = 10000.0f;  // base of inv_freq = theta^(-2i / rotary_dim)
  RopeStyle style = RopeStyle::neox;
};

// x: f32 [T, num_heads*head_dim], unit column stride; positions: one per row, >= 0. Throws
// strata::Error naming the field.
void check_rope(const RopeParams& params, const Tensor& x, std::span<const int64_t> positions);

void apply_rope(const RopeParams& params, const Tensor& x, Mirrored<int64_t> positions, const Exec& exec);

// Fills positions[t] = start_positions[i] + (t - cu_seqlens[i]) for each token t of sequence i (host
// arithmetic on the step's metadata). Throws when the sizes disagree.
void rope_positions(const VarlenBatch& batch, std::span<const int64_t> start_positions,
                    std::span<int64_t> positions);

}  // namespace strata::kernels
