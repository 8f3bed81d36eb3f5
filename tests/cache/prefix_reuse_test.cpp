#include "strata/cache/sequence_cache.h"

#include <gtest/gtest.h>

#include "cache/test_states.h"
#include "strata/core/error.h"

namespace strata::cache {
namespace {

using testing::all_zero;
using testing::fill_slot_random;
using testing::slot_bytes;
using testing::small_config;

TEST(PrefixReuse, CapturedBoundariesAndEndsRestoreExactly) {
  SequenceCache sequences(small_config(3));  // the one prefix-reuse path the engine uses
  MambaStateCache& cache = *sequences.mamba;
  PrefixStore store({.block_size = 4, .byte_budget = 1 << 20});
  std::mt19937 rng(1);
  std::vector<int32_t> tokens(10);
  for (auto& t : tokens) t = static_cast<int32_t>(rng() % 1000);
  const int prefill = sequences.allocate();

  // Stand-in for a chunked prefill: a new state at each chunk end, captured there.
  fill_slot_random(cache, prefill, rng);
  cache.set_position(prefill, 8);
  ASSERT_TRUE(sequences.capture_prefix(store, prefill, std::span<const int32_t>(tokens).first(8)));
  const std::vector<uint8_t> at_8 = slot_bytes(cache, prefill);
  fill_slot_random(cache, prefill, rng);
  cache.set_position(prefill, 10);
  ASSERT_TRUE(sequences.capture_prefix(store, prefill, tokens));  // end of the finished sequence
  const std::vector<uint8_t> at_10 = slot_bytes(cache, prefill);
  EXPECT_THROW(sequences.capture_prefix(store, prefill, std::span<const int32_t>(tokens).first(9)), Error);

  const int next = sequences.allocate();
  std::vector<int32_t> follow_up = tokens;
  follow_up.push_back(7);
  EXPECT_EQ(sequences.resume_from_prefix(store, next, follow_up, static_cast<int64_t>(follow_up.size()) - 1), 10);
  EXPECT_EQ(slot_bytes(cache, next), at_10);
  EXPECT_EQ(sequences.resume_from_prefix(store, next, tokens, 9), 8);
  EXPECT_EQ(slot_bytes(cache, next), at_8);
  EXPECT_EQ(cache.position(next), 8);

  std::vector<int32_t> unrelated = {1, 2, 3, 4, 5};
  fill_slot_random(cache, next, rng);
  EXPECT_EQ(sequences.resume_from_prefix(store, next, unrelated, 4), 0);
  EXPECT_TRUE(all_zero(slot_bytes(cache, next)));  // a miss starts from zeros

  // A state from another model in a shared store is refused, and the slot stays as it was.
  SequenceCache other_sequences(small_config(1, 0, DType::f32, "other-model"));
  MambaStateCache& other = *other_sequences.mamba;
  const int slot = other_sequences.allocate();
  fill_slot_random(other, slot, rng);
  const std::vector<uint8_t> before = slot_bytes(other, slot);
  EXPECT_THROW(other_sequences.resume_from_prefix(store, slot, tokens, 10), Error);
  EXPECT_EQ(slot_bytes(other, slot), before);
}

}  // namespace
}  // namespace strata::cache
