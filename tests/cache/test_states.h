// Helpers for the cache tests: small state shapes, random fills of a slot, and byte-exact slot copies
// for comparing a slot before and after an operation that must (or must not) change it.
#pragma once

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "strata/cache/state_cache.h"

namespace strata::cache::testing {

// Two Mamba layers with different shapes, so a mix-up between layers cannot go unnoticed.
inline StateCacheConfig small_config(int max_sequences = 4, int speculative_tokens = 0,
                                     DType state_dtype = DType::f32, std::string model_id = "test-model") {
  StateCacheConfig config;
  config.layers.push_back(MambaStateShape{24, 4, 3, 4, 8, DType::f32, state_dtype});
  config.layers.push_back(MambaStateShape{40, 3, 2, 8, 4, DType::f32, state_dtype});
  config.max_sequences = max_sequences;
  config.speculative_tokens = speculative_tokens;
  config.model_id = std::move(model_id);
  return config;
}

// Writes a random value, in the tensor's dtype, to every element of a contiguous view.
inline void fill_random(const Tensor& t, std::mt19937& rng) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (int64_t i = 0; i < t.numel(); ++i) {
    const float v = normal(rng);
    if (t.dtype == DType::f32) t.ptr<float>()[i] = v;
    else if (t.dtype == DType::bf16) t.ptr<uint16_t>()[i] = f32_to_bf16(v);
    else t.ptr<uint16_t>()[i] = f32_to_f16(v);
  }
}

inline void fill_slot_random(MambaStateCache& cache, int slot, std::mt19937& rng) {
  for (int l = 0; l < cache.num_layers(); ++l) {
    fill_random(cache.conv_state(l, slot), rng);
    fill_random(cache.ssm_state(l, slot), rng);
  }
}

// Every byte of a slot's state in every layer, then its position: equal copies mean equal slots.
inline std::vector<uint8_t> slot_bytes(const MambaStateCache& cache, int slot) {
  std::vector<uint8_t> bytes;
  for (int l = 0; l < cache.num_layers(); ++l) {
    for (const Tensor& t : {cache.conv_state(l, slot), cache.ssm_state(l, slot)}) {
      const auto* p = static_cast<const uint8_t*>(t.data);
      bytes.insert(bytes.end(), p, p + t.nbytes());
    }
  }
  const int64_t position = cache.position(slot);
  const auto* p = reinterpret_cast<const uint8_t*>(&position);
  bytes.insert(bytes.end(), p, p + sizeof(position));
  return bytes;
}

inline bool all_zero(const std::vector<uint8_t>& bytes) {
  for (uint8_t b : bytes)
    if (b) return false;
  return true;
}

}  // namespace strata::cache::testing
