#include "strata/cache/hash64.h"

#include <cstring>
#include <initializer_list>

namespace strata::cache {
namespace {

// Odd 64-bit constants with well-spread bits (from the golden ratio and other irrationals' fractions),
// so multiplication diffuses low input bits into high output bits.
constexpr uint64_t kPrime1 = 0x9e3779b97f4a7c15ull;
constexpr uint64_t kPrime2 = 0xc2b2ae3d27d4eb4full;
constexpr uint64_t kPrime3 = 0x165667b19e3779f9ull;
constexpr uint64_t kPrime4 = 0xd6e8feb86659fd93ull;

inline uint64_t rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

inline uint64_t load64(const unsigned char* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

// One lane step: mixing by multiply, then rotate so high bits feed back into low bits next time.
inline uint64_t lane_step(uint64_t lane, uint64_t word) {
  lane += word * kPrime2;
  lane = rotl(lane, 31);
  return lane * kPrime1;
}

// Final avalanche: every input bit flips each output bit with probability ~1/2.
inline uint64_t avalanche(uint64_t h) {
  h ^= h >> 33;
  h *= kPrime2;
  h ^= h >> 29;
  h *= kPrime3;
  h ^= h >> 32;
  return h;
}

}  // namespace

uint64_t hash64(const void* data, size_t bytes, uint64_t seed) {
  const auto* p = static_cast<const unsigned char*>(data);
  const unsigned char* const end = p + bytes;
  uint64_t h;
  if (bytes >= 32) {
    // Four independent lanes keep four multiplies in flight; this is what makes it memory-speed.
    uint64_t a = seed + kPrime1 + kPrime2, b = seed + kPrime2, c = seed, d = seed - kPrime1;
    const unsigned char* const last_block = end - 32;
    for (; p <= last_block; p += 32) {
      a = lane_step(a, load64(p));
      b = lane_step(b, load64(p + 8));
      c = lane_step(c, load64(p + 16));
      d = lane_step(d, load64(p + 24));
    }
    h = rotl(a, 1) + rotl(b, 7) + rotl(c, 12) + rotl(d, 18);
    for (uint64_t lane : {a, b, c, d}) h = (h ^ lane_step(0, lane)) * kPrime1 + kPrime4;
  } else {
    h = seed + kPrime3;
  }
  // The length goes in so that inputs differing only by trailing zero bytes hash differently.
  h += static_cast<uint64_t>(bytes);
  for (; p + 8 <= end; p += 8) h = rotl(h ^ lane_step(0, load64(p)), 27) * kPrime1 + kPrime4;
  if (p + 4 <= end) {
    uint32_t v;
    std::memcpy(&v, p, 4);
    h = rotl(h ^ (static_cast<uint64_t>(v) * kPrime1), 23) * kPrime2 + kPrime3;
    p += 4;
  }
  for (; p < end; ++p) h = rotl(h ^ (static_cast<uint64_t>(*p) * kPrime4), 11) * kPrime1;
  return avalanche(h);
}

}  // namespace strata::cache
