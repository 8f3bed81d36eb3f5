// MambaStateShape: the per-sequence recurrent state of one Mamba2 layer, conv state [K-1, conv_dim]
// and SSM state [H, P, N], with their storage dtypes. The cache, snapshots and the memory planner size
// everything from a list of these (one per Mamba layer), never from the layers themselves.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "strata/core/dtype.h"

namespace strata::cache {

struct MambaStateShape {
  int64_t conv_dim = 0;     // d_inner + 2 * n_groups * d_state: the channels the causal conv sees
  int64_t conv_kernel = 0;  // K (d_conv); the conv state keeps the last K-1 pre-conv inputs
  int64_t n_heads = 0;      // H
  int64_t head_dim = 0;     // P
  int64_t state_size = 0;   // N (d_state)
  DType conv_dtype = DType::f32;
  DType state_dtype = DType::f32;  // SSM state; fp32 unless asked otherwise (bf16 halves the memory)

  int64_t conv_elements() const { return (conv_kernel - 1) * conv_dim; }
  int64_t ssm_elements() const { return n_heads * head_dim * state_size; }
  size_t conv_bytes() const { return static_cast<size_t>(conv_elements()) * dtype_size(conv_dtype); }
  size_t ssm_bytes() const { return static_cast<size_t>(ssm_elements()) * dtype_size(state_dtype); }

  // "conv f32[3, 96] ssm f32[4, 16, 8]", for error messages.
  std::string describe() const;

  bool operator==(const MambaStateShape&) const = default;
};

// Throws strata::Error naming `what` (e.g. "Mamba layer 3") unless every dimension is positive,
// conv_kernel >= 2, and both dtypes are f32, bf16 or f16.
void validate(const MambaStateShape& shape, const std::string& what);

}  // namespace strata::cache
