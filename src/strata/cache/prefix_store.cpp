#include "strata/cache/prefix_store.h"

#include <algorithm>
#include <cstring>

#include "strata/cache/hash64.h"
#include "strata/core/error.h"

namespace strata::cache {
namespace {

// Keeps tail hashes apart from block hashes of the same anchor.
constexpr uint64_t kTailTag = 0x7461696c00000000ull;  // "tail"

bool same_tokens(std::span<const int32_t> a, std::span<const int32_t> b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size_bytes()) == 0;
}

}  // namespace

PrefixStore::PrefixStore(PrefixStoreConfig config) : config_(config) {
  if (config_.block_size < 1) fail("prefix store: block_size must be at least 1, got {}", config_.block_size);
}

std::vector<uint64_t> PrefixStore::block_hashes(std::span<const int32_t> tokens) const {
  const int64_t bs = config_.block_size;
  const auto blocks = static_cast<int64_t>(tokens.size()) / bs;
  std::vector<uint64_t> hashes(static_cast<size_t>(blocks));
  uint64_t h = config_.seed;
  for (int64_t k = 0; k < blocks; ++k) {
    h = hash64(tokens.data() + k * bs, static_cast<size_t>(bs) * sizeof(int32_t), h);
    hashes[static_cast<size_t>(k)] = h;
  }
  return hashes;
}

uint64_t PrefixStore::tail_hash(std::span<const int32_t> tail, uint64_t anchor_hash) const {
  return hash64(tail.data(), tail.size_bytes(), anchor_hash ^ kTailTag);
}

PrefixStore::Key PrefixStore::anchor_of(const Key& key, uint64_t anchor_hash) const {
  return Key{key.length / config_.block_size * config_.block_size, anchor_hash};
}

void PrefixStore::erase(std::unordered_map<Key, Entry, KeyHash>::iterator it) {
  const Key key = it->first;
  if (key.length % config_.block_size != 0) {
    auto anchor = tails_by_anchor_.find(anchor_of(key, it->second.anchor_hash));
    if (anchor != tails_by_anchor_.end()) {
      std::erase(anchor->second, key);
      if (anchor->second.empty()) tails_by_anchor_.erase(anchor);
    }
  }
  stats_.bytes -= it->second.bytes;
  lru_.erase(it->second.lru);
  entries_.erase(it);
}

bool PrefixStore::insert(std::span<const int32_t> tokens, StateBlob state) {
  if (tokens.empty()) fail("prefix store: cannot store a state for an empty token sequence");
  const int64_t bs = config_.block_size;
  const auto length = static_cast<int64_t>(tokens.size());
  const std::vector<uint64_t> chain = block_hashes(tokens);
  const uint64_t anchor_hash = chain.empty() ? config_.seed : chain.back();
  const bool aligned = length % bs == 0;
  const Key key{length, aligned ? anchor_hash : tail_hash(tokens.subspan(static_cast<size_t>(length / bs * bs)),
                                                           anchor_hash)};
  const size_t bytes = state.size() + tokens.size_bytes();

  std::lock_guard lock(mutex_);
  if (auto existing = entries_.find(key); existing != entries_.end()) erase(existing);
  if (bytes > config_.byte_budget) {
    ++stats_.rejected;
    return false;
  }
  while (stats_.bytes + bytes > config_.byte_budget) {
    ++stats_.evictions;
    erase(entries_.find(lru_.back()));
  }
  lru_.push_front(key);
  Entry entry;
  entry.tokens.assign(tokens.begin(), tokens.end());
  entry.state = std::make_shared<const StateBlob>(std::move(state));
  entry.bytes = bytes;
  entry.anchor_hash = anchor_hash;
  entry.lru = lru_.begin();
  entries_.emplace(key, std::move(entry));
  if (!aligned) tails_by_anchor_[anchor_of(key, anchor_hash)].push_back(key);
  stats_.bytes += bytes;
  ++stats_.insertions;
  return true;
}

PrefixMatch PrefixStore::lookup(std::span<const int32_t> tokens, int64_t max_tokens) {
  if (max_tokens >= 0 && max_tokens < static_cast<int64_t>(tokens.size()))
    tokens = tokens.first(static_cast<size_t>(max_tokens));
  const int64_t bs = config_.block_size;
  const auto n = static_cast<int64_t>(tokens.size());
  // Hash outside the lock: it is the O(n) part.
  const std::vector<uint64_t> chain = block_hashes(tokens);

  std::lock_guard lock(mutex_);
  auto hit = [&](const Key& key) -> const Entry* {
    auto it = entries_.find(key);
    if (it == entries_.end() || key.length > n) return nullptr;
    if (!same_tokens(it->second.tokens, tokens.first(static_cast<size_t>(key.length)))) return nullptr;
    return &it->second;
  };
  // Walk boundaries from the longest down; under each, tails (longer than the boundary) come first.
  for (auto k = static_cast<int64_t>(chain.size()); k >= 0; --k) {
    const uint64_t h = k == 0 ? config_.seed : chain[static_cast<size_t>(k - 1)];
    const Entry* best = nullptr;
    if (auto tails = tails_by_anchor_.find(Key{k * bs, h}); tails != tails_by_anchor_.end()) {
      int64_t best_length = 0;
      for (const Key& tail : tails->second) {
        if (tail.length <= best_length) continue;
        if (const Entry* entry = hit(tail)) {
          best = entry;
          best_length = tail.length;
        }
      }
    }
    if (!best && k > 0) best = hit(Key{k * bs, h});
    if (best) {
      lru_.splice(lru_.begin(), lru_, best->lru);
      ++stats_.hits;
      return PrefixMatch{static_cast<int64_t>(best->tokens.size()), best->state};
    }
  }
  ++stats_.misses;
  return PrefixMatch{};
}

PrefixStoreStats PrefixStore::stats() const {
  std::lock_guard lock(mutex_);
  PrefixStoreStats s = stats_;
  s.entries = entries_.size();
  return s;
}

void PrefixStore::clear() {
  std::lock_guard lock(mutex_);
  entries_.clear();
  tails_by_anchor_.clear();
  lru_.clear();
  stats_.bytes = 0;
}

}  // namespace strata::cache
