// ModelCache: a model's whole per-sequence state — the Mamba2 state slots of every Mamba layer and the
// paged KV blocks of every attention layer — sized from the model's schedule, addressed by slot.
#pragma once

#include <memory>
#include <optional>
#include <set>

#include "strata/cache/kv_cache.h"
#include "strata/cache/state_cache.h"

namespace strata::model {

struct CacheOptions {
  int max_sequences = 8;
  int64_t max_context = 4096;    // tokens per sequence the KV blocks must be able to hold
  int64_t kv_block_size = 16;
  int64_t kv_blocks = 0;         // 0: enough for max_sequences sequences of max_context tokens
  int speculative_tokens = 0;    // S: drafts per verification step
  DType state_dtype = DType::f32;
  DType kv_dtype = DType::f32;
};

struct ModelCache {
  std::unique_ptr<cache::MambaStateCache> mamba;  // null when the model has no Mamba layers
  std::unique_ptr<cache::PagedKvCache> kv;        // null when the model has no attention layers
  CacheOptions options;

  // A fresh sequence slot in both caches (the same index), zeroed; throws when none is free.
  int allocate();
  void free(int slot);
  // Tokens the slot has consumed.
  int64_t position(int slot) const;

 private:
  std::set<int> kv_in_use_;  // slot bookkeeping for models without Mamba layers
};

}  // namespace strata::model
