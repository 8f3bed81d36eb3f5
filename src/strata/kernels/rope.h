// Rotary position embedding, applied in place to per-token q or k rows [T, heads*head_dim]: the NeoX/HF
// "rotate_half" pairing or the GPT-J interleaved pairing, over the first rotary_dim dimensions of every
// head (partial rotary factor = rotary_dim / head_dim). Neutral entry point; cpu/rope.h has the math.
#pragma once

#include <cmath>
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

// The frequency of pair i as transformers computes it, all in f32: 1 / theta ** (2i / rotary_dim). Both
// twins take it from here, so the CPU and the GPU rotate by bit-identical f32 angles position·inv_freq
// (which matters at long positions, where one ulp of inv_freq moves the angle by ~position·6e-8 rad).
inline float rope_inv_freq(const RopeParams& params, int64_t i) {
  const float exponent = static_cast<float>(2 * i) / static_cast<float>(params.rotary_dim);
  return 1.0f / std::pow(params.theta, exponent);
}

// x: f32 [T, num_heads*head_dim], unit column stride; positions: one per row, >= 0. Throws
// strata::Error naming the field. Reads only shapes and the host positions, so it serves CUDA calls too.
void check_rope(const RopeParams& params, const Tensor& x, std::span<const int64_t> positions);

// On CUDA the kernel reads positions.device (one i64 per row, the same values as positions.host); the
// call checks the operands with check_rope first (host positions, shapes only).
void apply_rope(const RopeParams& params, const Tensor& x, Mirrored<int64_t> positions, const Exec& exec);

// Fills positions[t] = start_positions[i] + (t - cu_seqlens[i]) for each token t of sequence i (host
// arithmetic on the step's metadata). Throws when the sizes disagree.
void rope_positions(const VarlenBatch& batch, std::span<const int64_t> start_positions,
                    std::span<int64_t> positions);

}  // namespace strata::kernels
