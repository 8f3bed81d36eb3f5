#include "strata/cache/kv_cache.h"

#include <algorithm>
#include <cstring>
#include <limits>

#include "strata/core/cuda_runtime.h"
#include "strata/core/error.h"
#include "strata/core/memory.h"

namespace strata::cache {
namespace {

size_t elements_per_block(const KvCacheConfig& c) {
  return static_cast<size_t>(c.block_size) * static_cast<size_t>(c.n_kv_heads) * static_cast<size_t>(c.head_dim);
}

// Checks everything but num_blocks, which may still be derived from the budget.
void validate_shape(const KvCacheConfig& c) {
  if (c.num_layers < 0) fail("kv cache: num_layers must be >= 0, got {}", c.num_layers);
  if (c.n_kv_heads <= 0) fail("kv cache: kv_heads must be positive, got {}", c.n_kv_heads);
  if (c.head_dim <= 0) fail("kv cache: head_dim must be positive, got {}", c.head_dim);
  if (c.block_size <= 0) fail("kv cache: block_size must be positive, got {}", c.block_size);
  if (c.max_slots <= 0) fail("kv cache: max_slots must be positive, got {}", c.max_slots);
  if (c.max_sequence_length < 0)
    fail("kv cache: max_sequence_length must be >= 0 (0 = no limit), got {}", c.max_sequence_length);
  if (c.dtype != DType::f32 && c.dtype != DType::bf16)
    fail("kv cache: dtype {} is not supported, expected f32 or bf16", dtype_name(c.dtype));
}

KvCacheConfig resolve(KvCacheConfig c) {
  validate_shape(c);
  if (c.num_blocks < 0) fail("kv cache: num_blocks must be >= 0, got {}", c.num_blocks);
  if (c.num_blocks == 0) {
    const size_t per_block = PagedKvCache::block_bytes(c);
    if (per_block == 0 || c.byte_budget < per_block)
      fail("kv cache: byte budget {} holds no block (one block of {} positions costs {} bytes over {} "
           "attention layers); give num_blocks or a larger budget",
           c.byte_budget, c.block_size, per_block, c.num_layers);
    c.num_blocks = static_cast<int64_t>(c.byte_budget / per_block);
  }
  // Block ids are int32 in the tables the kernels read.
  if (c.num_blocks > std::numeric_limits<int32_t>::max())
    fail("kv cache: {} blocks exceed the int32 block-id range", c.num_blocks);
  return c;
}

}  // namespace

size_t PagedKvCache::block_bytes(const KvCacheConfig& config) {
  return 2 * static_cast<size_t>(std::max(config.num_layers, 0)) * elements_per_block(config) *
         dtype_size(config.dtype);
}

size_t PagedKvCache::bytes_required(const KvCacheConfig& config) {
  const KvCacheConfig c = resolve(config);
  return static_cast<size_t>(c.num_blocks) * block_bytes(c);
}

PagedKvCache::PagedKvCache(KvCacheConfig config) : config_(resolve(std::move(config))) {
  max_blocks_per_slot_ = config_.num_blocks;
  if (config_.max_sequence_length > 0)
    max_blocks_per_slot_ = std::min(max_blocks_per_slot_, blocks_needed(config_.max_sequence_length));
  const size_t pool_bytes =
      static_cast<size_t>(config_.num_blocks) * elements_per_block(config_) * dtype_size(config_.dtype);
  for (int l = 0; l < config_.num_layers; ++l) {
    k_pools_.emplace_back(pool_bytes, config_.device);
    v_pools_.emplace_back(pool_bytes, config_.device);
  }
  const auto slots = static_cast<size_t>(config_.max_slots);
  // The block tables live in a Buffer like the pools: the attention kernel reads them on the device.
  tables_ = Buffer(slots * static_cast<size_t>(max_blocks_per_slot_) * sizeof(int32_t));
  std::fill_n(tables(), slots * static_cast<size_t>(max_blocks_per_slot_), -1);
  if (config_.device != Device::cpu) device_tables_ = Buffer(tables_.size(), config_.device);
  block_counts_.assign(slots, 0);
  lengths_.assign(slots, 0);
  free_blocks_.reserve(static_cast<size_t>(config_.num_blocks));
  for (int64_t b = config_.num_blocks - 1; b >= 0; --b) free_blocks_.push_back(static_cast<int32_t>(b));
}

int64_t PagedKvCache::blocks_needed(int64_t length) const {
  return length <= 0 ? 0 : (length + config_.block_size - 1) / config_.block_size;
}

void PagedKvCache::check_slot(int slot, const char* operation) const {
  if (slot < 0 || slot >= config_.max_slots)
    fail("kv cache: {} of slot {}, expected 0 <= slot < {}", operation, slot, config_.max_slots);
}

void PagedKvCache::check_layer(int layer) const {
  if (layer < 0 || layer >= config_.num_layers)
    fail("kv cache: attention layer {} out of range (the cache has {} attention layers)", layer,
         config_.num_layers);
}

bool PagedKvCache::reserve(int slot, int64_t new_length) {
  tables_dirty_ = true;
  check_slot(slot, "reserve");
  const auto s = static_cast<size_t>(slot);
  if (new_length < lengths_[s])
    fail("kv cache: reserve of slot {} to {} positions is below its length {}; use truncate to shorten",
         slot, new_length, lengths_[s]);
  if (new_length > max_sequence_length())
    fail("kv cache: reserve of slot {} to {} positions exceeds max_sequence_length {}", slot, new_length,
         max_sequence_length());
  const int64_t missing = blocks_needed(new_length) - block_counts_[s];
  if (missing > free_block_count()) return false;
  int32_t* table = tables() + s * static_cast<size_t>(max_blocks_per_slot_);
  for (int64_t i = 0; i < missing; ++i) {
    table[block_counts_[s]++] = free_blocks_.back();
    free_blocks_.pop_back();
  }
  lengths_[s] = new_length;
  return true;
}

void PagedKvCache::release_blocks(int slot, int64_t keep_blocks) {
  const auto s = static_cast<size_t>(slot);
  int32_t* table = tables() + s * static_cast<size_t>(max_blocks_per_slot_);
  // Pushed back in reverse so the slot's first blocks are the next handed out again.
  while (block_counts_[s] > keep_blocks) {
    const int64_t i = --block_counts_[s];
    free_blocks_.push_back(table[i]);
    table[i] = -1;
  }
}

void PagedKvCache::free(int slot) {
  tables_dirty_ = true;
  check_slot(slot, "free");
  release_blocks(slot, 0);
  lengths_[static_cast<size_t>(slot)] = 0;
}

bool PagedKvCache::fork(int source, int destination) {
  tables_dirty_ = true;
  check_slot(source, "fork (source)");
  check_slot(destination, "fork (destination)");
  if (source == destination) fail("kv cache: fork of slot {} onto itself", source);
  const auto src = static_cast<size_t>(source), dst = static_cast<size_t>(destination);
  const int64_t needed = block_counts_[src];
  if (needed > free_block_count() + block_counts_[dst]) return false;
  release_blocks(destination, 0);
  lengths_[dst] = 0;
  const size_t block_bytes_one = elements_per_block(config_) * dtype_size(config_.dtype);
  const int32_t* src_table = tables() + src * static_cast<size_t>(max_blocks_per_slot_);
  int32_t* dst_table = tables() + dst * static_cast<size_t>(max_blocks_per_slot_);
  for (int64_t i = 0; i < needed; ++i) {
    const int32_t from = src_table[i], to = free_blocks_.back();
    free_blocks_.pop_back();
    dst_table[i] = to;
    for (int l = 0; l < config_.num_layers; ++l) {
      for (const Buffer* pool : {&k_pools_[static_cast<size_t>(l)], &v_pools_[static_cast<size_t>(l)]}) {
        auto* base = static_cast<char*>(pool->data());
        copy_memory(base + static_cast<size_t>(to) * block_bytes_one,
                    base + static_cast<size_t>(from) * block_bytes_one, block_bytes_one, config_.device);
      }
    }
  }
  block_counts_[dst] = needed;
  lengths_[dst] = lengths_[src];
  return true;
}

void PagedKvCache::truncate(int slot, int64_t length) {
  tables_dirty_ = true;
  check_slot(slot, "truncate");
  const auto s = static_cast<size_t>(slot);
  if (length < 0 || length > lengths_[s])
    fail("kv cache: truncate of slot {} to {} positions, expected 0 <= length <= its length {}", slot,
         length, lengths_[s]);
  release_blocks(slot, blocks_needed(length));
  lengths_[s] = length;
}

int64_t PagedKvCache::length(int slot) const {
  check_slot(slot, "length");
  return lengths_[static_cast<size_t>(slot)];
}

int64_t PagedKvCache::capacity(int slot) const {
  check_slot(slot, "capacity");
  return block_counts_[static_cast<size_t>(slot)] * config_.block_size;
}

std::span<const int32_t> PagedKvCache::block_table(int slot) const {
  check_slot(slot, "block_table");
  const auto s = static_cast<size_t>(slot);
  return {tables() + s * static_cast<size_t>(max_blocks_per_slot_),
          static_cast<size_t>(block_counts_[s])};
}

Tensor PagedKvCache::k_pool(int layer) const {
  check_layer(layer);
  return k_pools_[static_cast<size_t>(layer)].view(
      config_.dtype, {config_.num_blocks, config_.block_size, config_.n_kv_heads, config_.head_dim});
}

Tensor PagedKvCache::v_pool(int layer) const {
  check_layer(layer);
  return v_pools_[static_cast<size_t>(layer)].view(
      config_.dtype, {config_.num_blocks, config_.block_size, config_.n_kv_heads, config_.head_dim});
}

Tensor PagedKvCache::block_tables() const {
  if (config_.device != Device::cpu)
    return device_tables_.view(DType::i32, {config_.max_slots, max_blocks_per_slot_});
  // The kernels only read the tables; the view is non-const by the Tensor convention.
  return Tensor::contiguous(const_cast<int32_t*>(tables()), DType::i32,
                            {config_.max_slots, max_blocks_per_slot_});
}

void PagedKvCache::sync_device_tables(void* stream) {
  if (config_.device == Device::cpu || !tables_dirty_) return;
  cuda::copy_async(device_tables_.data(), tables_.data(), tables_.size(), stream);
  tables_dirty_ = false;
}

}  // namespace strata::cache
