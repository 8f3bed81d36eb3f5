#include "strata/cache/hash64.h"

#include <gtest/gtest.h>

#include <random>
#include <set>
#include <vector>

namespace strata::cache {
namespace {

TEST(Hash64, DeterministicAndSeedDependent) {
  std::vector<uint8_t> data(1000);
  std::mt19937 rng(1);
  for (auto& b : data) b = static_cast<uint8_t>(rng());
  EXPECT_EQ(hash64(data.data(), data.size(), 7), hash64(data.data(), data.size(), 7));
  EXPECT_NE(hash64(data.data(), data.size(), 7), hash64(data.data(), data.size(), 8));
}

TEST(Hash64, EveryLengthAndEveryTrailingZeroCountHashesDifferently) {
  // Covers the 32-byte lane loop, the 8-byte, 4-byte and 1-byte tails, and length mixing.
  std::vector<uint8_t> zeros(200, 0);
  std::set<uint64_t> seen;
  for (size_t n = 0; n <= zeros.size(); ++n) seen.insert(hash64(zeros.data(), n, 0));
  EXPECT_EQ(seen.size(), zeros.size() + 1);
}

TEST(Hash64, EverySingleBitFlipChangesTheHashAndAboutHalfTheOutputBits) {
  std::mt19937 rng(2);
  for (size_t n : {1u, 5u, 13u, 31u, 32u, 77u, 256u}) {
    std::vector<uint8_t> data(n);
    for (auto& b : data) b = static_cast<uint8_t>(rng());
    const uint64_t base = hash64(data.data(), n, 3);
    double total_flipped = 0;
    for (size_t bit = 0; bit < n * 8; ++bit) {
      data[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
      const uint64_t h = hash64(data.data(), n, 3);
      data[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
      ASSERT_NE(h, base) << "n=" << n << " bit=" << bit;
      total_flipped += __builtin_popcountll(h ^ base);
    }
    const double mean = total_flipped / static_cast<double>(n * 8);
    EXPECT_GT(mean, 24.0) << "n=" << n;  // an avalanching 64-bit hash flips ~32 bits
    EXPECT_LT(mean, 40.0) << "n=" << n;
  }
}

}  // namespace
}  // namespace strata::cache
