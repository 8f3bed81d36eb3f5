// Built with -ffp-contract=off -fno-fast-math (see CMakeLists.txt): the loop below must perform the same
// IEEE double additions and subtractions, in the same order, as Megatron's Python, or layers move.
#include "strata/schedule/allocation.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "strata/core/error.h"
#include "strata/schedule/pattern.h"
#include "strata/schedule/symbol_text.h"

namespace strata::schedule {

namespace {
// Python's round() of a float to int: half to even on the exact binary value. nearbyint does exactly
// that under the default FE_TONEAREST mode (std::round would round halves away from zero).
int64_t python_round(double value) { return static_cast<int64_t>(std::nearbyint(value)); }
}  // namespace

std::string allocate_auto(int total_layers, double attention_ratio, double mlp_ratio) {
  const size_t total = static_cast<size_t>(total_layers);
  const int64_t attention_count = python_round(static_cast<double>(total_layers) * attention_ratio);
  int64_t mamba_count = total_layers - attention_count;
  // Attention evenly spaced between runs of Mamba layers, starting and ending with Mamba.
  const double section_length = static_cast<double>(mamba_count) / static_cast<double>(attention_count + 1);
  std::string layers(total, kMamba);
  double x = section_length;
  for (size_t l = 0; l < total; ++l) {
    if (x < 0.5) {
      layers[l] = kAttention;
      x += section_length;
    } else {
      x -= 1;
    }
  }
  // MLP replaces remaining Mamba layers, evenly but right-justified.
  const int64_t mlp_count = python_round(static_cast<double>(total_layers) * mlp_ratio);
  if (mlp_count > 0) {
    mamba_count -= mlp_count;
    const double mamba_per_mlp = static_cast<double>(mamba_count) / static_cast<double>(mlp_count);
    x = mamba_per_mlp;
    for (size_t l = 0; l < total; ++l) {
      if (layers[l] != kMamba) continue;
      if (x < 0.5) {
        layers[l] = kMlp;
        x += mamba_per_mlp;
      } else {
        x -= 1;
      }
    }
  }
  return layers;
}

namespace {
// _allocate_override: length first, then the first invalid symbol.
std::string check_override(int total_layers, std::string_view override_pattern) {
  const std::vector<std::string_view> symbols = code_points(override_pattern);
  if (static_cast<int64_t>(symbols.size()) != total_layers)
    fail("The hybrid override pattern is the wrong length: got {}, expected {}", symbols.size(), total_layers);
  for (std::string_view cp : symbols) {
    if (cp.size() != 1 || !is_layer_symbol(cp[0]))
      fail("In hybrid override pattern, '{}' is not one of {}", quote_symbol(cp), kValidSetText);
  }
  return std::string(override_pattern);
}

bool counts_match(std::string_view a, std::string_view b) {
  for (char s : kLayerSymbols)
    if (std::count(a.begin(), a.end(), s) != std::count(b.begin(), b.end(), s)) return false;
  return true;
}
}  // namespace

std::string allocate_layers(int total_layers, double attention_ratio, double mlp_ratio,
                            std::optional<std::string_view> override_pattern) {
  // Megatron's bare asserts, in order. Written so NaN fails each comparison, as in Python.
  if (!(total_layers > 0)) fail("allocate_layers: the number of layers must be > 0, got {}", total_layers);
  if (!(attention_ratio >= 0.0 && attention_ratio <= 1.0))
    fail("allocate_layers: the attention ratio must be in [0, 1], got {}", attention_ratio);
  if (!(mlp_ratio >= 0.0 && mlp_ratio <= 1.0))
    fail("allocate_layers: the MLP ratio must be in [0, 1], got {}", mlp_ratio);
  if (!(attention_ratio + mlp_ratio <= 1.0))
    fail("allocate_layers: attention ratio + MLP ratio must be <= 1, got {} + {}", attention_ratio, mlp_ratio);

  std::string layers = allocate_auto(total_layers, attention_ratio, mlp_ratio);  // always computed, as Megatron
  if (override_pattern) {
    std::string overridden = check_override(total_layers, *override_pattern);
    if ((attention_ratio > 0.0 || mlp_ratio > 0.0) && !counts_match(overridden, layers))
      fail(
          "The number of each type of layer in the override pattern must match the number in the overridden "
          "pattern.");
    layers = std::move(overridden);
  }
  return layers;
}

}  // namespace strata::schedule
