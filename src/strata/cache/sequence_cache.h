// SequenceCache: the one owner of every sequence's state — its slot, its one position, the Mamba2
// conv/SSM states of every Mamba layer, the paged KV blocks of every attention layer and the blocks
// promised to it at admission, capture/restore for prefix reuse, and rollback after verification.
// Nothing outside cache/ counts positions: the model advances a sequence through this class.
//
// Thread-safety: none, like its parts (state_cache.h, kv_cache.h): one scheduler thread drives it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "strata/cache/kv_cache.h"
#include "strata/cache/prefix_store.h"
#include "strata/cache/state_cache.h"
#include "strata/schedule/schedule.h"

namespace strata::cache {

struct CacheOptions {
  int max_sequences = 8;
  int64_t max_context = 4096;    // tokens per sequence the KV blocks must be able to hold
  int64_t kv_block_size = 16;
  int64_t kv_blocks = 0;         // 0: enough for max_sequences sequences of max_context tokens
  int speculative_tokens = 0;    // S: drafts per verification step (sizes the per-token state buffers)
  DType state_dtype = DType::f32;
  DType kv_dtype = DType::f32;
  Device device = Device::cpu;   // where the state pools and KV blocks live (the model's device)
};

// What a cache for a schedule allocates: the one sizing function, used by the cache itself and by
// anyone who plans memory (strata plan, tests that hold the planner to it).
struct CachePlan {
  std::optional<StateCacheConfig> mamba;  // absent when the trunk has no Mamba2 layer
  std::optional<KvCacheConfig> kv;        // absent when the trunk has no attention layer
  size_t mamba_bytes = 0;                 // live pools plus speculative buffers
  size_t kv_bytes = 0;
  size_t total_bytes() const { return mamba_bytes + kv_bytes; }
};

// Throws strata::Error for invalid options (naming the option) or incomplete dimensions.
CachePlan plan_cache(const schedule::Schedule& schedule, const schedule::ModelDims& dims,
                     const CacheOptions& options, std::string model_id = {});

class SequenceCache {
 public:
  SequenceCache() = default;
  explicit SequenceCache(const CachePlan& plan, CacheOptions options = {});
  // A cache of Mamba states alone (tests, tools).
  explicit SequenceCache(StateCacheConfig mamba_config);
  SequenceCache(SequenceCache&&) noexcept = default;
  SequenceCache& operator=(SequenceCache&&) noexcept = default;

  // The parts, for the kernels' pool views and for inspection. Null when the model has none.
  std::unique_ptr<MambaStateCache> mamba;
  std::unique_ptr<PagedKvCache> kv;
  CacheOptions options;

  int num_slots() const;
  size_t allocated_bytes() const;

  // A fresh sequence slot in every part (the same index), zeroed, position 0; throws when none is free.
  int allocate();
  // Releases the slot's state, KV blocks and promised blocks.
  void free(int slot);
  bool is_allocated(int slot) const;
  int free_slot_count() const;
  // Tokens the slot's state has consumed: the one position of the sequence.
  int64_t position(int slot) const;

  // Admission control: promises the KV blocks a sequence of `total_tokens` will need, so a running
  // sequence never runs out mid-generation. False, changing nothing, when the promise cannot be kept.
  bool promise(int slot, int64_t total_tokens);
  int64_t promised_blocks() const { return promised_total_; }
  // Whether a new sequence of total_tokens could be promised its blocks now.
  bool can_promise(int64_t total_tokens) const;
  // Whether a sequence of total_tokens could ever fit the pool (an impossible request is refused).
  bool could_ever_fit(int64_t total_tokens) const;

  // Makes room for one step: slot[i] will consume lengths[i] more tokens. All or nothing: on failure
  // nothing changed and strata::Error says which slot did not fit.
  void prepare_step(std::span<const int32_t> slots, std::span<const int64_t> lengths);
  // After a forward: the slot consumed `tokens` more.
  void advance(int slot, int64_t tokens);

  // After a verification step that fed the base token plus `fed_drafts` drafts with keep_states:
  // keeps the state after the base token and `accepted_drafts` drafts — Mamba states from the per-token
  // buffers, KV truncated — and sets the position accordingly.
  void rollback(int slot, int fed_drafts, int accepted_drafts);

  // Prefix reuse, the one path: capture stores the slot's whole state (Mamba states and, with attention,
  // its KV positions) under exactly the tokens it has consumed (throws if `tokens` is not that long);
  // resume restores the longest stored prefix of tokens[0, max_tokens) into the slot and returns its
  // length (0 on a miss, slot reset). A state that does not fit throws, slot unchanged.
  bool can_capture() const { return mamba != nullptr; }
  bool capture_prefix(PrefixStore& store, int slot, std::span<const int32_t> tokens) const;
  int64_t resume_from_prefix(PrefixStore& store, int slot, std::span<const int32_t> tokens, int64_t max_tokens);
  // The slot's state as bytes (cache/snapshot.h) and back; restore returns the new position.
  std::vector<uint8_t> capture(int slot) const;
  int64_t restore(int slot, std::span<const uint8_t> blob);

 private:
  void check_slot(int slot, const char* operation) const;

  std::vector<uint8_t> in_use_;       // slot bookkeeping for models without Mamba layers
  std::vector<int64_t> promised_;     // KV blocks promised per slot
  int64_t promised_total_ = 0;
};

}  // namespace strata::cache
