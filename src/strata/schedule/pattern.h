// Megatron-Core's hybrid layer-pattern language, bit-exact with the seed-era module
// megatron/core/ssm/mamba_hybrid_layer_allocation.py (commit 9d71cb1cd2): symbols, parse, validate,
// layer maps and layer counts. Ratio allocation lives in allocation.h.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "strata/core/error.h"

namespace strata::schedule {

// The layer symbols, in Megatron's declaration order.
inline constexpr char kMamba = 'M';
inline constexpr char kAttention = '*';
inline constexpr char kMlp = '-';
inline constexpr char kMoe = 'E';
inline constexpr char kMtpSeparator = '/';
inline constexpr std::string_view kLayerSymbols = "M*-E";
// Python's str() of Symbols.VALID, canonicalised to declaration order (Python's set order varies by process).
inline constexpr std::string_view kValidSetText = "{'M', '*', '-', 'E'}";

bool is_layer_symbol(char c);

// Megatron's ParsedHybridPattern. std::nullopt where Megatron gives None.
struct ParsedPattern {
  std::optional<std::string> main;
  std::optional<std::string> mtp;
  int mtp_depths = 0;
  bool operator==(const ParsedPattern&) const = default;
};

// parse_hybrid_pattern. `std::nullopt` input is Python's None. Throws strata::Error with Megatron's
// ValueError text on invalid symbols or non-identical MTP patterns (same checks, same order).
ParsedPattern parse_pattern(std::optional<std::string_view> pattern);

// _validate_pattern: throws on the first character that is not a layer symbol; `name` is "main" or "MTP".
void validate_pattern(std::string_view pattern, std::string_view name);

// get_layer_maps_from_layer_type_list: global layer index -> index within its type, per symbol.
// An unknown symbol throws strata::Error naming it and its position.
struct LayerMaps {
  std::map<int, int> attention, mamba, mlp, moe;
};
LayerMaps layer_maps(std::string_view layer_types);

// Layer counts as Megatron's FLOP counter takes them: main pattern plus MTP pattern x depth.
struct LayerCounts {
  int64_t mamba = 0, attention = 0, mlp = 0, moe = 0;
  bool operator==(const LayerCounts&) const = default;
};
LayerCounts layer_counts(std::optional<std::string_view> pattern);

}  // namespace strata::schedule
