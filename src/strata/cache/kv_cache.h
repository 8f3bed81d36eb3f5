// PagedKvCache: the attention layers' keys and values in fixed-size blocks of positions, one K and one V
// pool per attention layer, one block table per sequence slot (the slot index of MambaStateCache) shared
// by every attention layer, a free-block allocator, and per-slot lengths.
//
// Thread-safety: none. The engine drives the cache from its scheduler thread; kernels read and write the
// pool views from worker threads during a forward, never concurrently with these methods.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "strata/core/dtype.h"
#include "strata/core/tensor.h"

namespace strata::cache {

struct KvCacheConfig {
  int num_layers = 0;       // attention layers, in model order
  int64_t n_kv_heads = 0;   // Hkv
  int64_t head_dim = 0;     // hd
  int64_t block_size = 16;  // positions per block
  // Blocks in each layer's pool. 0 derives it from byte_budget: as many blocks as fit when each costs
  // block_bytes (K and V of every layer).
  int64_t num_blocks = 0;
  size_t byte_budget = 0;
  int max_slots = 0;  // sequence slots; the same indices as MambaStateCache slots
  // Longest sequence a slot may hold; sets the block-table width. 0 = the whole pool (num_blocks blocks).
  int64_t max_sequence_length = 0;
  DType dtype = DType::f32;  // f32 (exact parity with an f32 reference) or bf16 (half the memory)
  Device device = Device::cpu;  // where the pools live; the block tables are kept on the host and mirrored
};

class PagedKvCache {
 public:
  // Allocates every pool up front (zeroed); throws strata::Error for invalid sizes, a dtype other than
  // f32/bf16, or a byte budget too small for one block.
  explicit PagedKvCache(KvCacheConfig config);
  PagedKvCache(const PagedKvCache&) = delete;
  PagedKvCache& operator=(const PagedKvCache&) = delete;

  // Bytes one block index costs across the cache: K and V, every layer.
  static size_t block_bytes(const KvCacheConfig& config);
  // Bytes the pools of this config take (after deriving num_blocks from the budget).
  static size_t bytes_required(const KvCacheConfig& config);

  const KvCacheConfig& config() const { return config_; }
  int num_layers() const { return config_.num_layers; }
  int num_slots() const { return config_.max_slots; }
  int64_t num_blocks() const { return config_.num_blocks; }
  int64_t block_size() const { return config_.block_size; }
  int64_t max_blocks_per_slot() const { return max_blocks_per_slot_; }
  int64_t max_sequence_length() const { return max_blocks_per_slot_ * config_.block_size; }

  // Blocks that hold `length` positions: ceil(length / block_size).
  int64_t blocks_needed(int64_t length) const;
  int64_t free_block_count() const { return static_cast<int64_t>(free_blocks_.size()); }

  // Makes the slot hold `new_length` positions (>= its current length): allocates the missing blocks and
  // sets its length. Positions [old length, new_length) are the caller's to fill in the coming step.
  // Returns false, changing nothing, when the free blocks cannot cover it (admission control). Throws
  // when new_length is below the current length (use truncate) or above max_sequence_length.
  bool reserve(int slot, int64_t new_length);
  // Returns all the slot's blocks to the pool; its length becomes 0. Freeing an empty slot is a no-op.
  void free(int slot);
  // Gives destination a private copy of source's positions (blocks copied in every layer) and length,
  // releasing whatever destination held. Returns false, changing nothing, when the pool cannot hold the
  // copy. source == destination throws.
  bool fork(int source, int destination);
  // Shortens the slot to `length` (<= its length), releasing blocks no longer needed: the rollback after
  // speculative verification. Kept positions are untouched.
  void truncate(int slot, int64_t length);

  int64_t length(int slot) const;
  // Positions the slot's blocks can hold without another reserve.
  int64_t capacity(int slot) const;
  // The slot's block ids in position order (one per block_size positions).
  std::span<const int32_t> block_table(int slot) const;

  // Views the attention kernel reads and writes.
  Tensor k_pool(int layer) const;  // [num_blocks, block_size, kv_heads, head_dim]
  Tensor v_pool(int layer) const;  // same
  // i32 [num_slots, max_blocks_per_slot]: row s starts with slot s's block table, unused entries -1.
  // On a GPU cache: the device mirror, current after the last sync_device_tables().
  Tensor block_tables() const;
  // Copies the host tables to the device mirror when they changed since the last call (a GPU cache;
  // a no-op on the CPU), asynchronously on `stream`, before a step's kernels read them.
  void sync_device_tables(void* stream);

 private:
  void check_slot(int slot, const char* operation) const;
  void check_layer(int layer) const;
  void release_blocks(int slot, int64_t keep_blocks);

  KvCacheConfig config_;
  int64_t max_blocks_per_slot_ = 0;
  std::vector<Buffer> k_pools_, v_pools_;
  int32_t* tables() const { return static_cast<int32_t*>(tables_.data()); }
  Buffer tables_;  // i32 [max_slots, max_blocks_per_slot], host
  Buffer device_tables_;  // the same on the GPU (GPU caches only)
  bool tables_dirty_ = true;
  std::vector<int64_t> block_counts_;
  std::vector<int64_t> lengths_;
  std::vector<int32_t> free_blocks_;  // a stack; the lowest id is on top
};

}  // namespace strata::cache
