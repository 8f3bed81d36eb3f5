#include "strata/cache/state_cache.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include <fmt/format.h>

#include "strata/core/error.h"
#include "strata/core/memory.h"

namespace strata::cache {
namespace {

// Converts `count` f32 values into `destination` of dtype `to` (f32, bf16 or f16).
void store_from_f32(void* destination, DType to, const float* source, int64_t count) {
  switch (to) {
    case DType::f32:
      std::memcpy(destination, source, static_cast<size_t>(count) * sizeof(float));
      return;
    case DType::bf16: {
      auto* out = static_cast<uint16_t*>(destination);
      for (int64_t i = 0; i < count; ++i) out[i] = f32_to_bf16(source[i]);
      return;
    }
    case DType::f16: {
      auto* out = static_cast<uint16_t*>(destination);
      for (int64_t i = 0; i < count; ++i) out[i] = f32_to_f16(source[i]);
      return;
    }
    default:
      return;  // validate() admits only the three dtypes above
  }
}

// The same for a destination and f32 source that may live on a GPU: f32 is a plain copy; another dtype
// converts on the host (rollback of a bf16 GPU state: two small copies, outside any step).
void store_from_f32(const Tensor& destination, const Tensor& source, int64_t count, Device device) {
  if (device == Device::cpu) return store_from_f32(destination.data, destination.dtype, source.ptr<float>(), count);
  if (destination.dtype == DType::f32)
    return copy_memory(destination.data, source.data, static_cast<size_t>(count) * sizeof(float), device);
  std::vector<float> values(static_cast<size_t>(count));
  std::vector<uint8_t> converted(static_cast<size_t>(count) * dtype_size(destination.dtype));
  copy_memory(values.data(), source.data, values.size() * sizeof(float), device);
  store_from_f32(converted.data(), destination.dtype, values.data(), count);
  copy_memory(destination.data, converted.data(), converted.size(), device);
}

}  // namespace

MambaStateCache::MambaStateCache(StateCacheConfig config) : config_(std::move(config)) {
  if (config_.max_sequences <= 0)
    fail("state cache: max_sequences must be positive, got {}", config_.max_sequences);
  if (config_.speculative_tokens < 0)
    fail("state cache: speculative_tokens must be >= 0, got {}", config_.speculative_tokens);
  for (size_t l = 0; l < config_.layers.size(); ++l)
    validate(config_.layers[l], fmt::format("state cache: Mamba layer {}", l));
  const auto slots = static_cast<size_t>(config_.max_sequences);
  const auto entries = static_cast<size_t>(config_.speculative_tokens + 1);
  for (const MambaStateShape& shape : config_.layers) {
    const Device device = config_.device;
    conv_pools_.emplace_back(slots * shape.conv_bytes(), device);
    ssm_pools_.emplace_back(slots * shape.ssm_bytes(), device);
    if (config_.speculative_tokens > 0) {
      speculative_conv_.emplace_back(slots * entries * static_cast<size_t>(shape.conv_elements()) * 4, device);
      speculative_ssm_.emplace_back(slots * entries * static_cast<size_t>(shape.ssm_elements()) * 4, device);
    }
  }
  positions_.assign(slots, 0);
  allocated_.assign(slots, 0);
  for (int s = config_.max_sequences - 1; s >= 0; --s) free_slots_.push_back(s);
}

size_t MambaStateCache::bytes_required(const StateCacheConfig& config) {
  size_t per_sequence = 0, speculative = 0;
  for (const MambaStateShape& shape : config.layers) {
    per_sequence += shape.conv_bytes() + shape.ssm_bytes();
    if (config.speculative_tokens > 0)
      speculative += static_cast<size_t>(config.speculative_tokens + 1) *
                     static_cast<size_t>(shape.conv_elements() + shape.ssm_elements()) * 4;
  }
  return static_cast<size_t>(std::max(config.max_sequences, 0)) * (per_sequence + speculative);
}

size_t MambaStateCache::bytes_per_sequence() const {
  size_t bytes = 0;
  for (const MambaStateShape& shape : config_.layers) bytes += shape.conv_bytes() + shape.ssm_bytes();
  return bytes;
}

void MambaStateCache::check_layer(int layer) const {
  if (layer < 0 || layer >= num_layers())
    fail("state cache: Mamba layer {} out of range (the cache has {} Mamba layers)", layer, num_layers());
}

void MambaStateCache::check_allocated(int slot, const char* operation) const {
  if (slot < 0 || slot >= num_slots())
    fail("state cache: {}: slot {} out of range [0, {})", operation, slot, num_slots());
  if (!allocated_[static_cast<size_t>(slot)]) fail("state cache: {}: slot {} is not allocated", operation, slot);
}

const MambaStateShape& MambaStateCache::layer_shape(int layer) const {
  check_layer(layer);
  return config_.layers[static_cast<size_t>(layer)];
}

Tensor MambaStateCache::conv_pool(int layer) const {
  const MambaStateShape& s = layer_shape(layer);
  return conv_pools_[static_cast<size_t>(layer)].view(s.conv_dtype, {num_slots(), s.conv_kernel - 1, s.conv_dim});
}

Tensor MambaStateCache::ssm_pool(int layer) const {
  const MambaStateShape& s = layer_shape(layer);
  return ssm_pools_[static_cast<size_t>(layer)].view(s.state_dtype,
                                                      {num_slots(), s.n_heads, s.head_dim, s.state_size});
}

Tensor MambaStateCache::conv_state(int layer, int slot) const {
  if (slot < 0 || slot >= num_slots()) fail("state cache: slot {} out of range [0, {})", slot, num_slots());
  return conv_pool(layer)[slot];
}

Tensor MambaStateCache::ssm_state(int layer, int slot) const {
  if (slot < 0 || slot >= num_slots()) fail("state cache: slot {} out of range [0, {})", slot, num_slots());
  return ssm_pool(layer)[slot];
}

Tensor MambaStateCache::speculative_conv(int layer) const {
  const MambaStateShape& s = layer_shape(layer);
  if (speculative_conv_.empty()) return Tensor{};
  return speculative_conv_[static_cast<size_t>(layer)].view(
      DType::f32, {num_slots(), speculative_tokens() + 1, s.conv_kernel - 1, s.conv_dim});
}

Tensor MambaStateCache::speculative_ssm(int layer) const {
  const MambaStateShape& s = layer_shape(layer);
  if (speculative_ssm_.empty()) return Tensor{};
  return speculative_ssm_[static_cast<size_t>(layer)].view(
      DType::f32, {num_slots(), speculative_tokens() + 1, s.n_heads, s.head_dim, s.state_size});
}

int MambaStateCache::allocate() {
  if (free_slots_.empty())
    fail("state cache: no free state slot: all {} slots (max_sequences) are in use", num_slots());
  const int slot = free_slots_.back();
  free_slots_.pop_back();
  allocated_[static_cast<size_t>(slot)] = 1;
  reset(slot);
  return slot;
}

void MambaStateCache::free(int slot) {
  check_allocated(slot, "free");
  allocated_[static_cast<size_t>(slot)] = 0;
  // Keep the lowest free index on top so allocation order stays predictable after frees.
  free_slots_.insert(std::upper_bound(free_slots_.begin(), free_slots_.end(), slot, std::greater<int>()), slot);
}

void MambaStateCache::reset(int slot) {
  check_allocated(slot, "reset");
  for (int l = 0; l < num_layers(); ++l) {
    zero_memory(conv_state(l, slot).data, conv_state(l, slot).nbytes(), config_.device);
    zero_memory(ssm_state(l, slot).data, ssm_state(l, slot).nbytes(), config_.device);
  }
  positions_[static_cast<size_t>(slot)] = 0;
}

void MambaStateCache::fork(int source, int destination) {
  check_allocated(source, "fork source");
  check_allocated(destination, "fork destination");
  if (source == destination) return;
  for (int l = 0; l < num_layers(); ++l) {
    copy_memory(conv_state(l, destination).data, conv_state(l, source).data, conv_state(l, source).nbytes(), config_.device);
    copy_memory(ssm_state(l, destination).data, ssm_state(l, source).data, ssm_state(l, source).nbytes(), config_.device);
  }
  positions_[static_cast<size_t>(destination)] = positions_[static_cast<size_t>(source)];
}

bool MambaStateCache::is_allocated(int slot) const {
  return slot >= 0 && slot < num_slots() && allocated_[static_cast<size_t>(slot)];
}

int64_t MambaStateCache::position(int slot) const {
  check_allocated(slot, "position");
  return positions_[static_cast<size_t>(slot)];
}

void MambaStateCache::set_position(int slot, int64_t position) {
  check_allocated(slot, "set_position");
  if (position < 0) fail("state cache: slot {}: position must be >= 0, got {}", slot, position);
  positions_[static_cast<size_t>(slot)] = position;
}

void MambaStateCache::advance(int slot, int64_t tokens) {
  check_allocated(slot, "advance");
  if (tokens < 0) fail("state cache: slot {}: cannot advance by a negative count {}", slot, tokens);
  positions_[static_cast<size_t>(slot)] += tokens;
}

void MambaStateCache::rollback(int slot, int fed_drafts, int accepted_drafts) {
  check_allocated(slot, "rollback");
  if (speculative_tokens() == 0)
    fail("state cache: rollback of slot {}: the cache was built with speculative_tokens = 0", slot);
  if (fed_drafts < 0 || fed_drafts > speculative_tokens())
    fail("state cache: rollback of slot {}: fed_drafts {} outside [0, {}] (speculative_tokens)", slot, fed_drafts,
         speculative_tokens());
  if (accepted_drafts < 0 || accepted_drafts > fed_drafts)
    fail("state cache: rollback of slot {}: accepted_drafts {} outside [0, {}] (fed_drafts)", slot,
         accepted_drafts, fed_drafts);
  const int64_t position = positions_[static_cast<size_t>(slot)];
  if (position < 1 + fed_drafts)
    fail("state cache: rollback of slot {}: position {} is before the verify step of {} tokens", slot, position,
         1 + fed_drafts);
  for (int l = 0; l < num_layers(); ++l) {
    const MambaStateShape& s = config_.layers[static_cast<size_t>(l)];
    const Tensor conv_entry = speculative_conv(l)[slot][accepted_drafts];
    const Tensor ssm_entry = speculative_ssm(l)[slot][accepted_drafts];
    store_from_f32(conv_state(l, slot), conv_entry, s.conv_elements(), config_.device);
    store_from_f32(ssm_state(l, slot), ssm_entry, s.ssm_elements(), config_.device);
  }
  positions_[static_cast<size_t>(slot)] = position - (fed_drafts - accepted_drafts);
}

}  // namespace strata::cache
