// Whole-sequence state as bytes for the prefix store: every Mamba layer's conv and SSM state plus, for
// models with attention, the slot's KV positions [0, position), in one snapshot (cache/snapshot.h).
// Restore replaces the slot's state and KV blocks with the blob's and sets its position.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "strata/model/model_cache.h"

namespace strata::engine {

// Prefix reuse needs a Mamba state cache to snapshot; attention-only models run without it.
bool can_capture_state(const model::ModelCache& cache);

// The slot's state after the tokens it has consumed (its position). The slot must be allocated and, for
// models with attention, its KV length must equal its position (true after every forward).
std::vector<uint8_t> capture_state(const model::ModelCache& cache, int slot);

// Restores a blob from capture_state into `slot` (allocated) and returns its position. Throws
// strata::Error, leaving the slot as it was, if the blob is damaged, from another model, or its KV does
// not fit the free blocks.
int64_t restore_state(model::ModelCache& cache, int slot, std::span<const uint8_t> blob);

}  // namespace strata::engine
