// Prefix reuse: the two steps that connect a MambaStateCache slot with a PrefixStore. Capture stores a
// slot's snapshot under the tokens it has consumed (at a block boundary during prefill, or at the end of
// a finished sequence); resume restores the longest stored prefix of a new prompt into a fresh slot.
#pragma once

#include <cstdint>
#include <span>

#include "strata/cache/prefix_store.h"
#include "strata/cache/state_cache.h"

namespace strata::cache {

// Stores a snapshot of `slot` keyed by `tokens`, which must be exactly the tokens the slot has consumed
// (cache.position(slot) == tokens.size(); throws strata::Error otherwise, since a state stored under the
// wrong tokens would silently corrupt every later hit). Returns PrefixStore::insert's result.
bool capture_prefix(PrefixStore& store, const MambaStateCache& cache, int slot, std::span<const int32_t> tokens);

// Restores the longest stored prefix of tokens[0, max_tokens) into `slot` and returns its length; the
// caller computes tokens from there. On a miss the slot is reset (zeros, position 0) and 0 is returned.
// A stored state that does not fit this cache (another model) throws strata::Error, slot untouched.
int64_t resume_from_prefix(PrefixStore& store, MambaStateCache& cache, int slot, std::span<const int32_t> tokens,
                           int64_t max_tokens);

}  // namespace strata::cache
