#include "strata/cache/prefix_store.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <list>
#include <random>
#include <thread>

#include "strata/cache/hash64.h"
#include "strata/core/error.h"

namespace strata::cache {
namespace {

std::vector<int32_t> random_tokens(size_t n, std::mt19937& rng) {
  std::vector<int32_t> tokens(n);
  for (auto& t : tokens) t = static_cast<int32_t>(rng() % 50000);
  return tokens;
}

// A recognisable state for a prefix: its length, repeated.
StateBlob blob_for(size_t length, size_t bytes = 64) { return StateBlob(bytes, static_cast<uint8_t>(length)); }

std::span<const int32_t> first(const std::vector<int32_t>& tokens, size_t n) {
  return std::span<const int32_t>(tokens).first(n);
}

TEST(PrefixStore, BlockHashesAreTheChainOverCompleteBlocks) {
  PrefixStore store({.block_size = 4, .byte_budget = 1 << 20, .seed = 99});
  std::mt19937 rng(1);
  std::vector<int32_t> tokens = random_tokens(14, rng);
  const std::vector<uint64_t> chain = store.block_hashes(tokens);
  ASSERT_EQ(chain.size(), 3u);
  uint64_t h = 99;
  for (size_t k = 0; k < 3; ++k) {
    h = hash64(tokens.data() + 4 * k, 16, h);
    EXPECT_EQ(chain[k], h);
  }
  // A change in block 1 changes h_2 and h_3 but not h_1.
  tokens[5] += 1;
  const std::vector<uint64_t> changed = store.block_hashes(tokens);
  EXPECT_EQ(changed[0], chain[0]);
  EXPECT_NE(changed[1], chain[1]);
  EXPECT_NE(changed[2], chain[2]);
  EXPECT_THROW(PrefixStore({.block_size = 0, .byte_budget = 1}), Error);
}

TEST(PrefixStore, LookupReturnsTheLongestStoredPrefix) {
  PrefixStore store({.block_size = 4, .byte_budget = 1 << 20});
  std::mt19937 rng(2);
  const std::vector<int32_t> tokens = random_tokens(14, rng);
  for (size_t boundary : {4u, 8u, 12u}) ASSERT_TRUE(store.insert(first(tokens, boundary), blob_for(boundary)));

  PrefixMatch match = store.lookup(tokens);
  ASSERT_TRUE(match);
  EXPECT_EQ(match.tokens, 12);
  EXPECT_EQ(*match.state, blob_for(12));
  EXPECT_EQ(store.lookup(first(tokens, 11)).tokens, 8);
  EXPECT_EQ(store.lookup(tokens, 8).tokens, 8);  // max_tokens bounds the match
  EXPECT_EQ(store.lookup(tokens, 7).tokens, 4);

  std::vector<int32_t> diverging = tokens;
  diverging[9] += 1;
  EXPECT_EQ(store.lookup(diverging).tokens, 8);
  diverging[2] += 1;
  EXPECT_FALSE(store.lookup(diverging));
  EXPECT_FALSE(store.lookup(first(tokens, 3)));
  const PrefixStoreStats stats = store.stats();
  EXPECT_EQ(stats.hits, 5u);
  EXPECT_EQ(stats.misses, 2u);
  EXPECT_EQ(stats.entries, 3u);
  EXPECT_EQ(stats.bytes, 3 * 64 + (4 + 8 + 12) * sizeof(int32_t));
}

TEST(PrefixStore, ExactEndOfAFinishedSequenceResumesTheNextTurn) {
  PrefixStore store({.block_size = 4, .byte_budget = 1 << 20});
  std::mt19937 rng(3);
  const std::vector<int32_t> turn_one = random_tokens(14, rng);
  store.insert(first(turn_one, 12), blob_for(12));
  store.insert(turn_one, blob_for(14));  // the exact end, not block-aligned
  // A sibling that ends in the same block but with a different tail.
  std::vector<int32_t> sibling(turn_one.begin(), turn_one.begin() + 13);
  sibling[12] += 1;
  store.insert(sibling, blob_for(113));

  std::vector<int32_t> turn_two = turn_one;
  for (int32_t t : random_tokens(9, rng)) turn_two.push_back(t);
  PrefixMatch match = store.lookup(turn_two);
  EXPECT_EQ(match.tokens, 14);
  EXPECT_EQ(*match.state, blob_for(14));
  // The engine keeps one token to compute when it needs the last token's logits.
  EXPECT_EQ(store.lookup(turn_one, 13).tokens, 12);
  std::vector<int32_t> sibling_next = sibling;
  sibling_next.push_back(5);
  match = store.lookup(sibling_next);
  EXPECT_EQ(match.tokens, 13);
  EXPECT_EQ(*match.state, blob_for(113));
  // A short exact entry before the first block boundary.
  store.insert(first(turn_one, 2), blob_for(2));
  EXPECT_EQ(store.lookup(first(turn_one, 3)).tokens, 2);
  EXPECT_THROW(store.insert({}, blob_for(0)), Error);
}

TEST(PrefixStore, ReinsertReplacesAndOversizeIsRejected) {
  PrefixStore store({.block_size = 4, .byte_budget = 1000});
  std::mt19937 rng(4);
  const std::vector<int32_t> tokens = random_tokens(8, rng);
  store.insert(tokens, blob_for(8, 100));
  store.insert(tokens, blob_for(9, 200));
  PrefixStoreStats stats = store.stats();
  EXPECT_EQ(stats.entries, 1u);
  EXPECT_EQ(stats.bytes, 200 + 8 * sizeof(int32_t));
  EXPECT_EQ(*store.lookup(tokens).state, blob_for(9, 200));
  EXPECT_FALSE(store.insert(first(tokens, 4), blob_for(4, 1000)));  // 1000 + 16 > budget
  EXPECT_EQ(store.stats().rejected, 1u);
  EXPECT_EQ(store.stats().entries, 1u);
  store.clear();
  EXPECT_EQ(store.stats().bytes, 0u);
  EXPECT_FALSE(store.lookup(tokens));
}

// The store against a plain model of an LRU cache under a byte budget: a list, most recent first.
TEST(PrefixStore, EvictsLeastRecentlyUsedWithinTheByteBudget) {
  constexpr size_t kBudget = 2000;
  PrefixStore store({.block_size = 4, .byte_budget = kBudget});
  std::mt19937 rng(5);
  std::vector<std::vector<int32_t>> sequences;
  for (int i = 0; i < 12; ++i) sequences.push_back(random_tokens(4 + 4 * (rng() % 3) + rng() % 3, rng));
  struct ModelEntry { size_t index; size_t bytes; };
  std::list<ModelEntry> model;
  uint64_t expected_evictions = 0;
  std::vector<std::shared_ptr<const StateBlob>> held;
  for (int step = 0; step < 400; ++step) {
    const size_t i = rng() % sequences.size();
    const std::vector<int32_t>& tokens = sequences[i];
    auto in_model = std::find_if(model.begin(), model.end(), [&](const ModelEntry& e) { return e.index == i; });
    if (rng() % 2) {
      const size_t state_bytes = 100 + rng() % 400;
      ASSERT_TRUE(store.insert(tokens, blob_for(i, state_bytes)));
      if (in_model != model.end()) model.erase(in_model);
      const size_t bytes = state_bytes + tokens.size() * sizeof(int32_t);
      size_t used = 0;
      for (const ModelEntry& e : model) used += e.bytes;
      while (used + bytes > kBudget) {
        used -= model.back().bytes;
        model.pop_back();
        ++expected_evictions;
      }
      model.push_front({i, bytes});
    } else {
      // Sequences share no prefixes (random tokens), so a hit must be exactly sequence i.
      const PrefixMatch match = store.lookup(tokens);
      ASSERT_EQ(static_cast<bool>(match), in_model != model.end()) << "step " << step;
      if (match) {
        EXPECT_EQ(match.tokens, static_cast<int64_t>(tokens.size()));
        EXPECT_EQ((*match.state)[0], static_cast<uint8_t>(i));
        model.splice(model.begin(), model, in_model);
        held.push_back(match.state);
      }
    }
    size_t used = 0;
    for (const ModelEntry& e : model) used += e.bytes;
    const PrefixStoreStats stats = store.stats();
    ASSERT_EQ(stats.bytes, used);
    ASSERT_LE(stats.bytes, kBudget);
    ASSERT_EQ(stats.entries, model.size());
  }
  EXPECT_EQ(store.stats().evictions, expected_evictions);
  EXPECT_GT(expected_evictions, 10u);
  for (const auto& state : held) EXPECT_FALSE(state->empty());  // evicted states stay valid for holders
}

TEST(PrefixStore, ConcurrentInsertsAndLookupsKeepTheBudget) {
  PrefixStore store({.block_size = 8, .byte_budget = 4096});
  auto worker = [&store](unsigned seed) {
    std::mt19937 rng(seed);
    for (int i = 0; i < 300; ++i) {
      const std::vector<int32_t> tokens = random_tokens(8 + rng() % 24, rng);
      store.insert(tokens, blob_for(tokens.size(), 200));
      const PrefixMatch match = store.lookup(tokens);
      if (match) {
        EXPECT_EQ(match.tokens, static_cast<int64_t>(tokens.size()));
      }
    }
  };
  std::thread a(worker, 6u), b(worker, 7u);
  a.join();
  b.join();
  EXPECT_LE(store.stats().bytes, 4096u);
  EXPECT_EQ(store.stats().insertions, 600u);
}

}  // namespace
}  // namespace strata::cache
