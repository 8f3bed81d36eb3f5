// Megatron's allocate_layers: places attention and MLP layers among Mamba layers by ratio, or checks
// an override pattern against that allocation. Bit-exact with Python: round-half-to-even, and the same
// double operations in the same order (allocation.cpp is built without FMA contraction or fast-math).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace strata::schedule {

// _allocate_auto: the ratio-driven layer string (only 'M', '*', '-').
std::string allocate_auto(int total_layers, double attention_ratio, double mlp_ratio);

// allocate_layers. Throws strata::Error for Megatron's assertion failures (with a message that says which
// bound failed) and with Megatron's ValueError text for override problems, checked in Megatron's order.
std::string allocate_layers(int total_layers, double attention_ratio, double mlp_ratio,
                            std::optional<std::string_view> override_pattern = std::nullopt);

}  // namespace strata::schedule
