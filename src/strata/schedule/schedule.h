// Schedule: one LayerSpec per layer, main trunk first then MTP depths, plus ModelDims, the sizes that
// loaders and the memory planner need alongside it. Built from a Megatron pattern, a preset or a
// Hugging Face config; validate_schedule() fails loudly, naming the layer index and what was expected.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "strata/core/dtype.h"
#include "strata/schedule/layer_spec.h"

namespace strata::schedule {

struct Schedule {
  std::vector<LayerSpec> layers;

  int size() const { return static_cast<int>(layers.size()); }
  int main_layer_count() const;  // layers with mtp_depth == 0
  int mtp_depths() const;        // the largest mtp_depth (0 when there is no MTP)
  bool operator==(const Schedule&) const = default;
};

// A Megatron hybrid pattern ("M*-E", MTP depths after '/', e.g. "MM*-/M*/M*"), parsed with
// parse_pattern(): each symbol is one layer (M mamba2, * full attention, - MLP, E MoE with learned
// routing). Throws strata::Error for invalid patterns and for a pattern with no main layers.
Schedule schedule_from_pattern(std::string_view pattern);

// The Megatron pattern of a schedule whose layers each have exactly one Megatron symbol; throws
// strata::Error naming the first layer that has none (e.g. attention + MoE, sliding windows).
std::string schedule_to_pattern(const Schedule& schedule);

// Checks: at least one main layer; index == position; each layer has a mixer or an FFN; attention
// fields match the attention kind (window > 0 for sliding/compressed, ratio >= 2 only when compressed,
// top-k only when compressed); default attention fields on non-attention layers; a router exactly on
// MoE layers; MTP depths ascend from 0 by steps of one with identical layer types at every depth.
void validate_schedule(const Schedule& schedule);

struct MambaDims {
  int64_t n_heads = 0;     // H
  int64_t head_dim = 0;    // P
  int64_t state_size = 0;  // N
  int64_t n_groups = 1;    // G
  int64_t conv_kernel = 4; // K
  int64_t chunk_size = 256;
  int64_t inner_size() const { return n_heads * head_dim; }                        // E = H·P
  int64_t conv_channels() const { return inner_size() + 2 * n_groups * state_size; }  // E + 2GN
  bool operator==(const MambaDims&) const = default;
};

struct AttentionDims {
  int64_t n_heads = 0;     // query heads
  int64_t n_kv_heads = 0;  // key/value heads (GQA)
  int64_t head_dim = 0;
  // > 0: each cached token (or compressed entry) is one shared K=V vector of this width, as in
  // DeepSeek-V4 (512); 0: separate K and V per kv head.
  int64_t shared_kv_width = 0;
  // Width of the lightning indexer's key per compressed entry on sparse (top-k) compressed layers.
  int64_t indexer_key_width = 0;

  // Elements cached per token (per compressed entry) per layer.
  int64_t kv_elements_per_entry() const {
    return shared_kv_width > 0 ? shared_kv_width : 2 * n_kv_heads * head_dim;
  }
  bool operator==(const AttentionDims&) const = default;
};

// The largest magnitude of any integer a config gives (a width, a count, a vocabulary size) and of any
// model dimension: 2^31 - 1. Real models are far below it, and with every input bounded so, what the
// config mappings derive from two of them (expand · d_model, a padded vocabulary) cannot overflow.
inline constexpr int64_t kMaxConfigInteger = 2147483647;

struct ModelDims {
  int64_t hidden_size = 0;
  int64_t vocab_size = 0;
  MambaDims mamba;
  AttentionDims attention;
  DType state_dtype = DType::f32;   // Mamba2 conv/SSM state and compressor rings
  DType cache_dtype = DType::bf16;  // attention K/V, compressed entries, indexer keys
  bool operator==(const ModelDims&) const = default;
};

// Checks that every dimension the schedule's layers need is present and positive (and none is
// negative or above kMaxConfigInteger), naming the first layer that needs a missing one and the flag/field that sets it.
void validate_dims(const Schedule& schedule, const ModelDims& dims);

}  // namespace strata::schedule
