#include "strata/cache/sequence_cache.h"

#include "strata/cache/from_schedule.h"
#include "strata/cache/snapshot.h"
#include "strata/core/error.h"

namespace strata::cache {

CachePlan plan_cache(const schedule::Schedule& schedule, const schedule::ModelDims& dims,
                     const CacheOptions& options, std::string model_id) {
  if (options.max_sequences < 1) fail("cache: max_sequences must be >= 1, got {}", options.max_sequences);
  if (options.max_context < 1) fail("cache: max_context must be >= 1, got {}", options.max_context);
  if (options.kv_block_size < 1) fail("cache: kv_block_size must be >= 1, got {}", options.kv_block_size);
  if (options.kv_blocks < 0) fail("cache: kv_blocks must be >= 0, got {}", options.kv_blocks);
  if (options.speculative_tokens < 0)
    fail("cache: speculative_tokens must be >= 0, got {}", options.speculative_tokens);
  CachePlan plan;
  StateCacheConfig mamba = state_cache_config(schedule, dims, options.max_sequences, options.speculative_tokens,
                                              std::move(model_id), options.state_dtype);
  mamba.device = options.device;
  if (!mamba.layers.empty()) {
    plan.mamba_bytes = MambaStateCache::bytes_required(mamba);
    plan.mamba = std::move(mamba);
  }
  const int attention_layers = attention_layer_count(schedule);
  if (attention_layers > 0) {
    KvCacheConfig kc;
    kc.num_layers = attention_layers;
    kc.n_kv_heads = dims.attention.n_kv_heads;
    kc.head_dim = dims.attention.head_dim;
    kc.block_size = options.kv_block_size;
    kc.max_slots = options.max_sequences;
    kc.max_sequence_length = options.max_context;
    const int64_t blocks_per_sequence = (options.max_context + options.kv_block_size - 1) / options.kv_block_size;
    kc.num_blocks = options.kv_blocks > 0 ? options.kv_blocks : options.max_sequences * blocks_per_sequence;
    kc.dtype = options.kv_dtype;
    kc.device = options.device;
    plan.kv_bytes = PagedKvCache::bytes_required(kc);
    plan.kv = kc;
  }
  return plan;
}

SequenceCache::SequenceCache(const CachePlan& plan, CacheOptions cache_options) : options(cache_options) {
  if (plan.mamba) mamba = std::make_unique<MambaStateCache>(*plan.mamba);
  if (plan.kv) kv = std::make_unique<PagedKvCache>(*plan.kv);
  in_use_.assign(static_cast<size_t>(num_slots()), 0);
  promised_.assign(static_cast<size_t>(num_slots()), 0);
}

SequenceCache::SequenceCache(StateCacheConfig mamba_config) {
  options.max_sequences = mamba_config.max_sequences;
  options.speculative_tokens = mamba_config.speculative_tokens;
  mamba = std::make_unique<MambaStateCache>(std::move(mamba_config));
  in_use_.assign(static_cast<size_t>(num_slots()), 0);
  promised_.assign(static_cast<size_t>(num_slots()), 0);
}

int SequenceCache::num_slots() const {
  if (mamba) return mamba->num_slots();
  return kv ? kv->num_slots() : 0;
}

size_t SequenceCache::allocated_bytes() const {
  return (mamba ? MambaStateCache::bytes_required(mamba->config()) : 0) +
         (kv ? PagedKvCache::bytes_required(kv->config()) : 0);
}

void SequenceCache::check_slot(int slot, const char* operation) const {
  if (slot < 0 || slot >= num_slots() || !is_allocated(slot))
    fail("{}: slot {} is not allocated ({} slots)", operation, slot, num_slots());
}

int SequenceCache::allocate() {
  int slot = -1;
  if (mamba) {
    slot = mamba->allocate();
  } else {
    for (int s = 0; s < num_slots() && slot < 0; ++s)
      if (!in_use_[static_cast<size_t>(s)]) slot = s;
    if (slot < 0) fail("no free sequence slot: all {} are in use", num_slots());
  }
  in_use_[static_cast<size_t>(slot)] = 1;
  if (kv) kv->free(slot);
  return slot;
}

void SequenceCache::free(int slot) {
  check_slot(slot, "free");
  if (mamba) mamba->free(slot);
  if (kv) kv->free(slot);
  in_use_[static_cast<size_t>(slot)] = 0;
  promised_total_ -= promised_[static_cast<size_t>(slot)];
  promised_[static_cast<size_t>(slot)] = 0;
}

bool SequenceCache::is_allocated(int slot) const {
  if (slot < 0 || slot >= num_slots()) return false;
  return mamba ? mamba->is_allocated(slot) : in_use_[static_cast<size_t>(slot)] != 0;
}

int SequenceCache::free_slot_count() const {
  if (mamba) return mamba->free_slot_count();
  int n = 0;
  for (uint8_t used : in_use_) n += used == 0;
  return n;
}

int64_t SequenceCache::position(int slot) const {
  if (mamba) return mamba->position(slot);
  return kv->length(slot);
}

bool SequenceCache::promise(int slot, int64_t total_tokens) {
  check_slot(slot, "promise");
  if (!kv) return true;
  const int64_t need = kv->blocks_needed(total_tokens);
  const int64_t extra = need - promised_[static_cast<size_t>(slot)];
  if (promised_total_ + extra > kv->num_blocks()) return false;
  promised_[static_cast<size_t>(slot)] = need;
  promised_total_ += extra;
  return true;
}

bool SequenceCache::can_promise(int64_t total_tokens) const {
  return !kv || promised_total_ + kv->blocks_needed(total_tokens) <= kv->num_blocks();
}

bool SequenceCache::could_ever_fit(int64_t total_tokens) const {
  return !kv || (total_tokens <= kv->max_sequence_length() && kv->blocks_needed(total_tokens) <= kv->num_blocks());
}

void SequenceCache::prepare_step(std::span<const int32_t> slots, std::span<const int64_t> lengths) {
  if (!kv) return;
  for (size_t i = 0; i < slots.size(); ++i) {
    const int64_t end = position(slots[i]) + lengths[i];
    if (end > kv->max_sequence_length())
      fail("forward: slot {} would hold {} tokens, more than the {} this cache was sized for", slots[i], end,
           kv->max_sequence_length());
  }
  for (size_t i = 0; i < slots.size(); ++i) {
    if (!kv->reserve(slots[i], position(slots[i]) + lengths[i])) {
      for (size_t j = 0; j < i; ++j) kv->truncate(slots[j], position(slots[j]));
      fail("forward: the KV cache has no room for {} more tokens of slot {} ({} free blocks)", lengths[i], slots[i],
           kv->free_block_count());
    }
  }
}

void SequenceCache::advance(int slot, int64_t tokens) {
  if (mamba) mamba->advance(slot, tokens);
  // Attention-only models: the KV length, reserved by prepare_step, is the position.
}

void SequenceCache::rollback(int slot, int fed_drafts, int accepted_drafts) {
  check_slot(slot, "rollback");
  if (accepted_drafts < 0 || accepted_drafts > fed_drafts)
    fail("rollback: slot {} accepted {} of {} drafts", slot, accepted_drafts, fed_drafts);
  const int64_t keep = position(slot) - (fed_drafts - accepted_drafts);
  if (mamba) mamba->rollback(slot, fed_drafts, accepted_drafts);
  if (kv) kv->truncate(slot, keep);
}

std::vector<uint8_t> SequenceCache::capture(int slot) const {
  if (!mamba) fail("capture state: this model has no Mamba layers, so it has no snapshot to capture");
  if (kv) return save_snapshot(*mamba, *kv, slot);
  return save_snapshot(*mamba, slot);
}

int64_t SequenceCache::restore(int slot, std::span<const uint8_t> blob) {
  if (!mamba) fail("restore state: this model has no Mamba layers, so it has no snapshot to restore");
  if (kv)
    restore_snapshot(*mamba, *kv, slot, blob);
  else
    restore_snapshot(*mamba, slot, blob);
  return mamba->position(slot);
}

bool SequenceCache::capture_prefix(PrefixStore& store, int slot, std::span<const int32_t> tokens) const {
  const int64_t consumed = position(slot);
  if (consumed != static_cast<int64_t>(tokens.size()))
    fail("capture prefix: slot {} has consumed {} tokens but {} tokens were given as its key", slot, consumed,
         tokens.size());
  return store.insert(tokens, capture(slot));
}

int64_t SequenceCache::resume_from_prefix(PrefixStore& store, int slot, std::span<const int32_t> tokens,
                                          int64_t max_tokens) {
  const PrefixMatch match = store.lookup(tokens, max_tokens);
  if (!match) {
    if (mamba) mamba->reset(slot);
    if (kv) kv->free(slot);
    return 0;
  }
  restore(slot, *match.state);
  return match.tokens;
}

}  // namespace strata::cache
