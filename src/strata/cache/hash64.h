// hash64: a fast 64-bit non-cryptographic hash (four multiply-rotate lanes, then an avalanche mix),
// used as the snapshot checksum and for the prefix store's token hash chain. Every output bit depends
// on every input bit; a different seed gives an unrelated function. Not for adversarial inputs.
#pragma once

#include <cstddef>
#include <cstdint>

namespace strata::cache {

// Hash of `bytes` bytes at `data`. Deterministic across runs and machines of the same endianness
// (little-endian words are read; strata only targets little-endian hosts).
uint64_t hash64(const void* data, size_t bytes, uint64_t seed = 0);

}  // namespace strata::cache
