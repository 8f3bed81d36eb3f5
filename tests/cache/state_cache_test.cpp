#include "strata/cache/state_cache.h"

#include <gtest/gtest.h>

#include <cmath>

#include "cache/test_states.h"
#include "strata/core/error.h"

namespace strata::cache {
namespace {

using testing::all_zero;
using testing::fill_slot_random;
using testing::slot_bytes;
using testing::small_config;

TEST(StateCache, PoolViewsHaveTheKernelLayoutsAndSlotViewsPointIntoThem) {
  MambaStateCache cache(small_config(5, 2, DType::bf16));
  ASSERT_EQ(cache.num_layers(), 2);
  const Tensor conv = cache.conv_pool(1);
  EXPECT_EQ(conv.describe(), "f32[5, 2, 40]");  // [num_slots, K-1, conv_dim]
  EXPECT_TRUE(conv.is_contiguous());
  const Tensor ssm = cache.ssm_pool(0);
  EXPECT_EQ(ssm.describe(), "bf16[5, 3, 4, 8]");  // [num_slots, H, P, N]
  EXPECT_EQ(cache.conv_state(1, 3).data, conv[3].data);
  EXPECT_EQ(cache.ssm_state(0, 4).data, ssm[4].data);
  EXPECT_EQ(cache.speculative_conv(0).describe(), "f32[5, 3, 3, 24]");
  EXPECT_EQ(cache.speculative_ssm(1).describe(), "f32[5, 3, 2, 8, 4]");
  EXPECT_THROW(cache.conv_pool(2), Error);
  EXPECT_THROW(cache.ssm_state(0, 5), Error);

  // Sizes from the shapes by hand: live conv f32 + ssm bf16 per slot, speculative all f32 x (S+1).
  const size_t live = (3 * 24 * 4 + 3 * 4 * 8 * 2) + (2 * 40 * 4 + 2 * 8 * 4 * 2);
  const size_t speculative = 3 * ((3 * 24 + 3 * 4 * 8) + (2 * 40 + 2 * 8 * 4)) * 4;
  EXPECT_EQ(cache.bytes_per_sequence(), live);
  EXPECT_EQ(MambaStateCache::bytes_required(cache.config()), 5 * (live + speculative));
  EXPECT_FALSE(cache.speculative_conv(0).data == nullptr);
  MambaStateCache plain(small_config(2, 0));
  EXPECT_EQ(plain.speculative_ssm(0).data, nullptr);
}

TEST(StateCache, RejectsInvalidConfigs) {
  StateCacheConfig config = small_config();
  config.max_sequences = 0;
  EXPECT_THROW(MambaStateCache{config}, Error);
  config = small_config();
  config.layers[1].conv_kernel = 1;
  try {
    MambaStateCache cache(config);
    FAIL() << "conv_kernel 1 accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("Mamba layer 1"), std::string::npos) << e.what();
  }
  config = small_config();
  config.layers[0].state_dtype = DType::i32;
  EXPECT_THROW(MambaStateCache{config}, Error);
  config = small_config();
  config.speculative_tokens = -1;
  EXPECT_THROW(MambaStateCache{config}, Error);
}

TEST(StateCache, AllocateTakesLowestFreeSlotZeroedAndFreeValidates) {
  MambaStateCache cache(small_config(3));
  std::mt19937 rng(1);
  EXPECT_EQ(cache.allocate(), 0);
  EXPECT_EQ(cache.allocate(), 1);
  EXPECT_EQ(cache.allocate(), 2);
  EXPECT_EQ(cache.free_slot_count(), 0);
  try {
    cache.allocate();
    FAIL() << "allocated past max_sequences";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no free state slot"), std::string::npos) << e.what();
  }
  fill_slot_random(cache, 1, rng);
  cache.set_position(1, 77);
  cache.free(2);
  cache.free(1);
  EXPECT_FALSE(cache.is_allocated(1));
  EXPECT_THROW(cache.free(1), Error);  // double free
  EXPECT_THROW(cache.free(7), Error);
  EXPECT_THROW(cache.position(1), Error);
  EXPECT_EQ(cache.allocate(), 1);  // lowest free, and the old sequence's state is gone
  EXPECT_TRUE(all_zero(slot_bytes(cache, 1)));
  EXPECT_EQ(cache.allocate(), 2);
}

TEST(StateCache, ResetZeroesAndForkCopiesIndependently) {
  MambaStateCache cache(small_config(3, 0, DType::bf16));
  std::mt19937 rng(2);
  const int a = cache.allocate(), b = cache.allocate();
  fill_slot_random(cache, a, rng);
  cache.set_position(a, 40);
  cache.advance(a, 2);
  EXPECT_EQ(cache.position(a), 42);
  EXPECT_THROW(cache.advance(a, -1), Error);
  EXPECT_THROW(cache.set_position(a, -5), Error);

  const std::vector<uint8_t> a_before = slot_bytes(cache, a);
  EXPECT_FALSE(all_zero(a_before));
  cache.fork(a, b);
  EXPECT_EQ(slot_bytes(cache, b), a_before);
  fill_slot_random(cache, a, rng);  // the copy must not alias the source
  EXPECT_EQ(slot_bytes(cache, b), a_before);
  EXPECT_THROW(cache.fork(a, 2), Error);  // destination not allocated

  cache.reset(b);
  EXPECT_TRUE(all_zero(slot_bytes(cache, b)));
  EXPECT_EQ(cache.position(b), 0);
  EXPECT_FALSE(all_zero(slot_bytes(cache, a)));  // reset touches only its slot
}

// A toy recurrent "kernel" with the real kernels' contract: it reads the live state, advances it one
// token at a time (rounding to the live dtype after each token), and when verifying writes the f32
// state after token s into speculative entry s. Conv: shift out the oldest input row, append a new one.
// SSM: decay plus an input term. Its numbers differ per token, channel and layer, so any wrong entry,
// layer or slot shows up as a byte difference.
float load(const Tensor& t, int64_t i) {
  if (t.dtype == DType::f32) return t.ptr<float>()[i];
  return t.dtype == DType::bf16 ? bf16_to_f32(t.ptr<uint16_t>()[i]) : f16_to_f32(t.ptr<uint16_t>()[i]);
}
void store(const Tensor& t, int64_t i, float v) {
  if (t.dtype == DType::f32) t.ptr<float>()[i] = v;
  else if (t.dtype == DType::bf16) t.ptr<uint16_t>()[i] = f32_to_bf16(v);
  else t.ptr<uint16_t>()[i] = f32_to_f16(v);
}

void toy_step(MambaStateCache& cache, int slot, int token, int speculative_entry) {
  for (int l = 0; l < cache.num_layers(); ++l) {
    const MambaStateShape& shape = cache.layer_shape(l);
    const Tensor conv = cache.conv_state(l, slot), ssm = cache.ssm_state(l, slot);
    const int64_t rows = shape.conv_kernel - 1, dim = shape.conv_dim;
    std::vector<float> next_conv(static_cast<size_t>(rows * dim));
    for (int64_t r = 0; r + 1 < rows; ++r)
      for (int64_t c = 0; c < dim; ++c) next_conv[static_cast<size_t>(r * dim + c)] = load(conv, (r + 1) * dim + c);
    for (int64_t c = 0; c < dim; ++c)
      next_conv[static_cast<size_t>((rows - 1) * dim + c)] = std::sin(0.37f * static_cast<float>(token + c + l));
    std::vector<float> next_ssm(static_cast<size_t>(shape.ssm_elements()));
    for (int64_t i = 0; i < shape.ssm_elements(); ++i)
      next_ssm[static_cast<size_t>(i)] = 0.9f * load(ssm, i) + 0.01f * static_cast<float>((token * 31 + i + l) % 17);
    for (int64_t i = 0; i < rows * dim; ++i) store(conv, i, next_conv[static_cast<size_t>(i)]);
    for (int64_t i = 0; i < shape.ssm_elements(); ++i) store(ssm, i, next_ssm[static_cast<size_t>(i)]);
    if (speculative_entry >= 0) {
      std::copy(next_conv.begin(), next_conv.end(), cache.speculative_conv(l)[slot][speculative_entry].ptr<float>());
      std::copy(next_ssm.begin(), next_ssm.end(), cache.speculative_ssm(l)[slot][speculative_entry].ptr<float>());
    }
  }
}

void check_rollback(DType state_dtype, int fed_drafts) {
  constexpr int S = 3;
  MambaStateCache cache(small_config(4, S, state_dtype));
  std::mt19937 rng(3);
  for (int accepted = 0; accepted <= fed_drafts; ++accepted) {
    const int verified = cache.allocate(), oracle = cache.allocate();
    fill_slot_random(cache, verified, rng);
    cache.set_position(verified, 100);
    cache.fork(verified, oracle);
    const std::vector<int> step_tokens = {11, 5, 42, 7};  // base token + drafts
    // Verify step: 1 + fed_drafts tokens, then the position advances as after any step.
    for (int s = 0; s <= fed_drafts; ++s) toy_step(cache, verified, step_tokens[static_cast<size_t>(s)], s);
    cache.advance(verified, 1 + fed_drafts);
    cache.rollback(verified, fed_drafts, accepted);
    // Oracle: only the base token and the accepted drafts, no speculation.
    for (int s = 0; s <= accepted; ++s) toy_step(cache, oracle, step_tokens[static_cast<size_t>(s)], -1);
    cache.advance(oracle, 1 + accepted);
    EXPECT_EQ(cache.position(verified), 100 + 1 + accepted);
    EXPECT_EQ(slot_bytes(cache, verified), slot_bytes(cache, oracle))
        << dtype_name(state_dtype) << " fed " << fed_drafts << " accepted " << accepted;
    cache.free(verified);
    cache.free(oracle);
  }
}

TEST(StateCache, RollbackKeepsTheStateAfterAcceptedDrafts) {
  check_rollback(DType::f32, 3);
  check_rollback(DType::f32, 1);  // fewer drafts than the buffers hold
  check_rollback(DType::bf16, 3);
  check_rollback(DType::f16, 2);
}

TEST(StateCache, RollbackRejectsImpossibleRequestsWithoutTouchingState) {
  MambaStateCache cache(small_config(2, 2));
  std::mt19937 rng(4);
  const int slot = cache.allocate();
  fill_slot_random(cache, slot, rng);
  cache.set_position(slot, 10);
  const std::vector<uint8_t> before = slot_bytes(cache, slot);
  EXPECT_THROW(cache.rollback(slot, 3, 0), Error);   // more drafts than S
  EXPECT_THROW(cache.rollback(slot, 1, 2), Error);   // accepted more than fed
  EXPECT_THROW(cache.rollback(slot, 2, -1), Error);
  EXPECT_THROW(cache.rollback(1, 1, 0), Error);      // slot not allocated
  cache.set_position(slot, 2);
  EXPECT_THROW(cache.rollback(slot, 2, 0), Error);   // position 2 cannot hold a 3-token step
  cache.set_position(slot, 10);
  EXPECT_EQ(slot_bytes(cache, slot), before);
  MambaStateCache plain(small_config(1, 0));
  const int p = plain.allocate();
  plain.set_position(p, 5);
  EXPECT_THROW(plain.rollback(p, 0, 0), Error);
}

}  // namespace
}  // namespace strata::cache
