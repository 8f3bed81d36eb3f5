// The memory planner: from a Schedule and ModelDims alone (no layer is built), the cache bytes each
// sequence holds for good and the bytes each further token adds, per layer type, then totals for a
// context length and a number of concurrent sequences, and how many sequences fit a budget.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "strata/schedule/schedule.h"

namespace strata::schedule {

// Cost of one layer of a type, and how many layers of that type the trunk and the MTP depths have.
// Fixed (per sequence, held for good, reserved in full from the first token):
//   mamba2:      conv state (E+2GN)·(K−1) and SSM state H·P·N, at the state dtype;
//   swa/csa/hca: the raw window, window · entry bytes at the cache dtype;
//   csa/hca:     the compressor ring of raw tokens waiting to be pooled: ratio tokens (2·ratio for
//                sparse/CSA layers, whose pooling windows overlap), each a K=V row and a gate-score row
//                of entry width at the state dtype; CSA also an indexer ring of the same shape at the
//                indexer key width.
// Growing (per token of context):
//   full attention: one entry = K and V per kv head (2·kv_heads·head_dim) or one shared K=V vector;
//   csa/hca:        one entry per `ratio` tokens, plus (CSA) one indexer key per entry.
struct LayerTypeCost {
  std::string type;  // mixer_label() for layers with a mixer, else the FFN ("mlp", "moe")
  int main_layers = 0;
  int mtp_layers = 0;

  int64_t conv_state_bytes = 0;
  int64_t ssm_state_bytes = 0;
  int64_t window_bytes = 0;
  int64_t compressor_ring_bytes = 0;
  int64_t indexer_ring_bytes = 0;

  int64_t kv_bytes_per_token = 0;      // full attention
  int64_t compressed_entry_bytes = 0;  // compressed: bytes per compressed entry
  int64_t indexer_entry_bytes = 0;     // sparse compressed: indexer key bytes per compressed entry
  int64_t compress_ratio = 0;          // compressed: tokens per entry

  int64_t fixed_bytes() const;              // per layer per sequence
  double growing_bytes_per_token() const;   // per layer; fractional for compressed layers
  int64_t growing_bytes(int64_t context_tokens) const;  // per layer, exact: floor(T/ratio) entries
};

struct MemoryPlan {
  std::vector<LayerTypeCost> types;  // in order of first appearance in the schedule
  DType state_dtype = DType::f32;
  DType cache_dtype = DType::bf16;
  int64_t context_tokens = 0;
  int64_t sequences = 0;

  // Per sequence, split into the main trunk and the MTP layers.
  int64_t main_fixed_bytes = 0;
  int64_t mtp_fixed_bytes = 0;
  double main_bytes_per_token = 0;  // growth rate; exact totals below use floor(T/ratio)
  double mtp_bytes_per_token = 0;
  int64_t main_growing_bytes = 0;   // at context_tokens
  int64_t mtp_growing_bytes = 0;

  int64_t bytes_per_sequence = 0;  // main + MTP, fixed + growing at context_tokens
  int64_t total_bytes = 0;         // bytes_per_sequence · sequences

  std::optional<int64_t> budget_bytes;
  // floor(budget / bytes_per_sequence); nullopt without a budget or when a sequence costs nothing.
  std::optional<int64_t> sequences_that_fit;
};

// Validates the schedule, the dims (validate_dims) and the request (context >= 0, sequences >= 1,
// budget > 0); throws strata::Error, also when a byte count would overflow 64 bits.
MemoryPlan plan_memory(const Schedule& schedule, const ModelDims& dims, int64_t context_tokens,
                       int64_t sequences, std::optional<int64_t> budget_bytes = std::nullopt);

// One JSON object with every number above (bytes as integers, GiB as floats).
nlohmann::json plan_to_json(const MemoryPlan& plan);

// A readable table: per layer type fixed and growing bytes, then totals, MTP shown separately.
std::string format_plan(const MemoryPlan& plan);

}  // namespace strata::schedule
