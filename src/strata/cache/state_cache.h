// MambaStateCache: per-layer pools of Mamba2 conv and SSM states, one slot per live sequence, with a
// position per slot, allocate/free/reset/fork, and the speculative buffers that let a (1+S)-token
// verify step be rolled back to the state after any k <= S accepted drafts.
//
// Thread-safety: none. The engine drives the cache from its one scheduler thread; kernels may read and
// write the pool views from worker threads during a forward, never concurrently with these methods.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "strata/cache/state_shape.h"
#include "strata/core/tensor.h"
#include "strata/core/dtype.h"

namespace strata::cache {

struct StateCacheConfig {
  std::vector<MambaStateShape> layers;  // one per Mamba layer, in model order
  int max_sequences = 0;                // live slots (sequences decoded at once)
  int speculative_tokens = 0;           // S, drafts per verify step; 0 allocates no speculative buffers
  std::string model_id;                 // identity of config + weights, written into snapshots
  Device device = Device::cpu;          // where the pools live
};

class MambaStateCache {
 public:
  // Allocates every pool up front (zeroed); throws strata::Error for invalid shapes or counts.
  explicit MambaStateCache(StateCacheConfig config);
  MambaStateCache(const MambaStateCache&) = delete;
  MambaStateCache& operator=(const MambaStateCache&) = delete;

  // Bytes the cache with this config allocates: live pools plus speculative buffers.
  static size_t bytes_required(const StateCacheConfig& config);
  // Live state bytes of one sequence, all layers (what a snapshot's payload holds).
  size_t bytes_per_sequence() const;

  const StateCacheConfig& config() const { return config_; }
  const std::string& model_id() const { return config_.model_id; }
  int num_layers() const { return static_cast<int>(config_.layers.size()); }
  int num_slots() const { return config_.max_sequences; }
  int speculative_tokens() const { return config_.speculative_tokens; }
  const MambaStateShape& layer_shape(int layer) const;

  // Pool views the kernels read and write; slot s is index s of the first dimension.
  Tensor conv_pool(int layer) const;  // [num_slots, K-1, conv_dim], oldest input first, channels contiguous
  Tensor ssm_pool(int layer) const;   // [num_slots, H, P, N]
  Tensor conv_state(int layer, int slot) const;  // [K-1, conv_dim]
  Tensor ssm_state(int layer, int slot) const;   // [H, P, N]
  // Speculative buffers (f32, indexed by slot): entry s is the state after the base token and s drafts.
  // Empty views when speculative_tokens == 0.
  Tensor speculative_conv(int layer) const;  // [num_slots, S+1, K-1, conv_dim]
  Tensor speculative_ssm(int layer) const;   // [num_slots, S+1, H, P, N]

  // Takes the lowest free slot, zeroed, position 0. Throws when every slot is in use.
  int allocate();
  // Returns a slot to the pool; throws if it is not allocated (double free).
  void free(int slot);
  // Zeroes a slot's state in every layer and sets its position to 0.
  void reset(int slot);
  // Copies source's state (every layer) and position into destination; both must be allocated.
  void fork(int source, int destination);
  bool is_allocated(int slot) const;
  int free_slot_count() const { return static_cast<int>(free_slots_.size()); }

  // Position = number of tokens the slot's state has consumed.
  int64_t position(int slot) const;
  void set_position(int slot, int64_t position);
  void advance(int slot, int64_t tokens);

  // After a verify step that fed the base token plus `fed_drafts` drafts (and advanced the position by
  // 1 + fed_drafts like any step), keeps the state after the base token and `accepted_drafts` drafts:
  // copies speculative entry `accepted_drafts` into the live slot in every layer (converting from f32 to
  // the state dtypes) and moves the position back by fed_drafts - accepted_drafts.
  void rollback(int slot, int fed_drafts, int accepted_drafts);

 private:
  void check_layer(int layer) const;
  void check_allocated(int slot, const char* operation) const;

  StateCacheConfig config_;
  std::vector<Buffer> conv_pools_, ssm_pools_;
  std::vector<Buffer> speculative_conv_, speculative_ssm_;
  std::vector<int64_t> positions_;
  std::vector<uint8_t> allocated_;
  std::vector<int> free_slots_;  // a stack; the lowest index is on top
};

}  // namespace strata::cache
