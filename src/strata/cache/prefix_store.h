// PrefixStore: recurrent states keyed by the tokens that produced them, so a prompt that shares a prefix
// with an earlier one (a system prompt, the previous turn of a chat) resumes instead of recomputing.
// Entries are captured at block-aligned boundaries during prefill and at the exact end of finished
// sequences; lookup returns the longest stored prefix, verified token by token. Bounded by bytes, LRU.
//
// Thread-safety: every method locks one mutex, so the store may be shared between threads. A lookup's
// result owns its state (shared_ptr), so it stays valid after the entry is evicted.
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <span>
#include <unordered_map>
#include <vector>

namespace strata::cache {

// An opaque state, usually a snapshot (snapshot.h) of every Mamba layer of one sequence.
using StateBlob = std::vector<uint8_t>;

struct PrefixStoreConfig {
  int64_t block_size = 256;   // tokens per hash-chain block; the chunk alignment of captured states
  size_t byte_budget = 0;     // the most bytes of states plus stored tokens the store holds
  uint64_t seed = 0x7072656669780001ull;  // h_0 of the hash chain
};

struct PrefixMatch {
  int64_t tokens = 0;                      // length of the matched prefix; 0 on a miss
  std::shared_ptr<const StateBlob> state;  // the state after those tokens; null on a miss
  explicit operator bool() const { return state != nullptr; }
};

struct PrefixStoreStats {
  uint64_t hits = 0, misses = 0;  // lookups that found / did not find a prefix
  uint64_t insertions = 0;        // entries stored (a replaced entry counts again)
  uint64_t evictions = 0;         // entries dropped to make room
  uint64_t rejected = 0;          // inserts larger than the whole budget, not stored
  size_t bytes = 0;               // bytes held now (states + 4 bytes per stored token)
  size_t entries = 0;
};

class PrefixStore {
 public:
  // Throws strata::Error if block_size < 1.
  explicit PrefixStore(PrefixStoreConfig config);

  // The hash chain over complete blocks: element k-1 is h_k = hash64(tokens of block k, seed = h_{k-1}),
  // h_0 = config.seed, for k = 1 .. tokens.size() / block_size.
  std::vector<uint64_t> block_hashes(std::span<const int32_t> tokens) const;

  // Stores `state` as the state after consuming exactly `tokens` (non-empty; any length: block-aligned
  // prefill boundaries and exact sequence ends alike). Replaces an entry for the same tokens. Evicts
  // least-recently-used entries to fit; returns false (storing nothing) if the entry alone exceeds the
  // budget. Throws strata::Error for empty tokens.
  bool insert(std::span<const int32_t> tokens, StateBlob state);

  // The longest stored prefix of tokens[0, max_tokens) (max_tokens < 0 or past the end: all tokens).
  // A hit becomes the most recently used entry. An engine that needs logits for the last token passes
  // max_tokens = tokens.size() - 1 so at least one token is left to compute.
  PrefixMatch lookup(std::span<const int32_t> tokens, int64_t max_tokens = -1);

  PrefixStoreStats stats() const;
  const PrefixStoreConfig& config() const { return config_; }
  void clear();

 private:
  // An entry is identified by its length and the hash of its tokens: h_{L/bs} when block-aligned,
  // otherwise a hash of the tail after the last complete block, seeded by that block's h.
  struct Key {
    int64_t length;
    uint64_t hash;
    bool operator==(const Key&) const = default;
  };
  struct KeyHash {
    size_t operator()(const Key& k) const {
      return static_cast<size_t>(k.hash ^ (static_cast<uint64_t>(k.length) * 0x9e3779b97f4a7c15ull));
    }
  };
  struct Entry {
    std::vector<int32_t> tokens;  // kept to verify a match, so a hash collision can never return a wrong state
    std::shared_ptr<const StateBlob> state;
    size_t bytes = 0;
    uint64_t anchor_hash = 0;  // h of the last complete block before the entry's end (tails_by_anchor_)
    std::list<Key>::iterator lru;
  };

  uint64_t tail_hash(std::span<const int32_t> tail, uint64_t anchor_hash) const;
  Key anchor_of(const Key& key, uint64_t anchor_hash) const;
  void erase(std::unordered_map<Key, Entry, KeyHash>::iterator it);

  PrefixStoreConfig config_;
  mutable std::mutex mutex_;
  std::unordered_map<Key, Entry, KeyHash> entries_;
  // Entries whose length is not block-aligned, listed under the block boundary just before them, so a
  // lookup finds them while walking the block chain.
  std::unordered_map<Key, std::vector<Key>, KeyHash> tails_by_anchor_;
  std::list<Key> lru_;  // front = most recently used
  PrefixStoreStats stats_;
};

}  // namespace strata::cache
