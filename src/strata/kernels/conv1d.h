// Depthwise causal conv1d (+bias, +SiLU) over a packed varlen batch, carrying each sequence's last K-1
// pre-conv input rows in a slot of the conv state pool [num_slots, K-1, conv_dim] (oldest row first,
// channels contiguous). Neutral entry point: dispatches on the Exec's device; cpu/conv1d.h has the math.
#pragma once

#include <cstdint>

#include "strata/core/exec.h"
#include "strata/core/tensor.h"
#include "strata/kernels/varlen.h"

namespace strata::kernels {

struct CausalConv1dParams {
  int64_t conv_dim = 0;      // channels (d_inner + 2·n_groups·d_state for Mamba2)
  int64_t kernel_width = 4;  // K, 2..8; weight[c, K-1] multiplies the current token
  bool silu = true;          // Mamba2 always applies SiLU after the conv
};

// Shapes as in cpu/conv1d.h; throws strata::Error naming the offending tensor.
void check_causal_conv1d(const CausalConv1dParams& params, const Tensor& x, const Tensor& weight,
                         const Tensor& bias, const VarlenBatch& batch, const Tensor& conv_state,
                         const Tensor& intermediate, const Tensor& out, bool decode);

// Prefill: parallel over tokens; each sequence starts from its slot's rows (or zeros) and leaves its last
// K-1 inputs there.
void causal_conv1d_prefill(const CausalConv1dParams& params, const Tensor& x, const Tensor& weight,
                           const Tensor& bias, const VarlenBatch& batch, const Tensor& conv_state,
                           const Tensor& out, const Exec& exec);

// Decode and (1+S) verify; with `intermediate`, row [i, j] receives the state after token j.
void causal_conv1d_decode(const CausalConv1dParams& params, const Tensor& x, const Tensor& weight,
                          const Tensor& bias, const VarlenBatch& batch, const Tensor& conv_state,
                          const Tensor& intermediate, const Tensor& out, const Exec& exec);

}  // namespace strata::kernels
