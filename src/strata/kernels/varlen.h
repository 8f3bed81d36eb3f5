// VarlenBatch: how the kernels see one packed step. Tokens of all sequences are concatenated along the
// token (row) axis; sequence i owns rows [cu_seqlens[i], cu_seqlens[i+1]) and its recurrent state lives in
// slot slots[i] of the layer's state pools. Prefill chunks, one-token decode and (1+S)-token verification
// are all just sequences with different lengths.
#pragma once

#include <cstdint>
#include <span>

namespace strata::kernels {

// On a GPU step the three arrays also live on the device (uploaded once per step by Model::forward);
// CUDA kernels read these, host code the spans. A part of a step (the Mamba mixer's decode or prefill
// sequences) points into the step's arrays and subtracts row_offset so its rows count from 0.
struct VarlenDevice {
  const int64_t* cu_seqlens = nullptr;
  const int32_t* slots = nullptr;
  const uint8_t* has_initial_state = nullptr;
  int64_t row_offset = 0;
};

struct VarlenBatch {
  std::span<const int64_t> cu_seqlens;          // [num_sequences + 1], cu_seqlens[0] == 0, non-decreasing
  std::span<const int32_t> slots;               // [num_sequences], state slot of each sequence
  std::span<const uint8_t> has_initial_state;   // [num_sequences]: 1 = start from the slot's state, 0 = zeros
  VarlenDevice device = {};                     // GPU steps only

  int64_t num_sequences() const { return static_cast<int64_t>(slots.size()); }
  int64_t num_tokens() const { return cu_seqlens.empty() ? 0 : cu_seqlens.back(); }
  int64_t begin(int64_t i) const { return cu_seqlens[static_cast<size_t>(i)]; }
  int64_t length(int64_t i) const {
    return cu_seqlens[static_cast<size_t>(i) + 1] - cu_seqlens[static_cast<size_t>(i)];
  }
};

// A host array with, on GPU steps, the same values on the device (per-token positions, per-sequence
// start positions). Converts implicitly from a span, so CPU callers pass spans as before.
template <typename T>
struct Mirrored {
  std::span<const T> host;
  const T* device = nullptr;
  Mirrored(std::span<const T> host_values, const T* device_values = nullptr)  // NOLINT: implicit on purpose
      : host(host_values), device(device_values) {}
  size_t size() const { return host.size(); }
};

}  // namespace strata::kernels
