// Boundary validation of a VarlenBatch against the tensors a kernel call will touch. Throws
// strata::Error naming the kernel and the field; kernels themselves assume a checked batch.
#pragma once

#include <cstdint>
#include <string_view>

#include "strata/kernels/varlen.h"

namespace strata::kernels::cpu {

// cu_seqlens well formed and ending at num_tokens; slots within [0, num_slots) (negative allowed as
// padding when allow_padding_slots); has_initial_state one entry per sequence.
void check_varlen_batch(std::string_view kernel, const VarlenBatch& batch, int64_t num_tokens,
                        int64_t num_slots, bool allow_padding_slots);

// Longest sequence in the batch (0 for an empty batch).
int64_t max_sequence_length(const VarlenBatch& batch);

}  // namespace strata::kernels::cpu
