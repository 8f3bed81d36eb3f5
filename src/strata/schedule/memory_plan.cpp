#include "strata/schedule/memory_plan.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "strata/core/error.h"

namespace strata::schedule {

namespace {

// Hostile dims or contexts must give an error, not a wrapped-around byte count.
int64_t mul(int64_t a, int64_t b) {
  int64_t out;
  if (__builtin_mul_overflow(a, b, &out))
    fail("memory plan: a byte count overflows 64 bits ({} x {}); the dims or the context are too large", a, b);
  return out;
}
int64_t add(int64_t a, int64_t b) {
  int64_t out;
  if (__builtin_add_overflow(a, b, &out))
    fail("memory plan: a byte count overflows 64 bits ({} + {}); the dims or the context are too large", a, b);
  return out;
}

LayerTypeCost cost_of(const LayerSpec& l, const ModelDims& dims) {
  LayerTypeCost c;
  const int64_t state_bytes = static_cast<int64_t>(dtype_size(dims.state_dtype));
  const int64_t cache_bytes = static_cast<int64_t>(dtype_size(dims.cache_dtype));
  if (l.mixer == MixerKind::none) {
    c.type = std::string(ffn_kind_name(l.ffn));
    return c;
  }
  c.type = mixer_label(l);
  if (has_mamba2(l)) {
    const MambaDims& m = dims.mamba;
    const int64_t channels = add(mul(m.n_heads, m.head_dim), mul(2, mul(m.n_groups, m.state_size)));
    c.conv_state_bytes = mul(mul(channels, m.conv_kernel - 1), state_bytes);
    c.ssm_state_bytes = mul(mul(mul(m.n_heads, m.head_dim), m.state_size), state_bytes);
    if (!has_attention(l)) return c;
  }
  const AttentionDims& a = dims.attention;
  const int64_t entry_elements =
      a.shared_kv_width > 0 ? a.shared_kv_width : mul(2, mul(a.n_kv_heads, a.head_dim));
  const int64_t entry_bytes = mul(entry_elements, cache_bytes);
  const AttentionSpec& spec = l.attention;
  switch (spec.kind) {
    case AttentionKind::full:
      c.kv_bytes_per_token = entry_bytes;
      break;
    case AttentionKind::sliding_window:
      c.window_bytes = mul(spec.window, entry_bytes);
      break;
    case AttentionKind::compressed: {
      const bool sparse = spec.sparse_top_k > 0;
      c.window_bytes = mul(spec.window, entry_bytes);
      c.compress_ratio = spec.compress_ratio;
      c.compressed_entry_bytes = entry_bytes;
      const int64_t ring_tokens = mul(spec.compress_ratio, sparse ? 2 : 1);
      // Each raw token in the ring keeps a K=V row and a gate-score row until its window is pooled.
      c.compressor_ring_bytes = mul(mul(ring_tokens, mul(2, entry_elements)), state_bytes);
      if (sparse) {
        c.indexer_entry_bytes = mul(a.indexer_key_width, cache_bytes);
        c.indexer_ring_bytes = mul(mul(ring_tokens, mul(2, a.indexer_key_width)), state_bytes);
      }
      break;
    }
  }
  return c;
}

double gib(int64_t bytes) { return static_cast<double>(bytes) / (1024.0 * 1024.0 * 1024.0); }

// 1536 -> "1.50 KiB"; exact bytes are printed next to it where they matter.
std::string human(double bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  int unit = 0;
  while (bytes >= 1024.0 && unit < 6) {
    bytes /= 1024.0;
    ++unit;
  }
  return unit == 0 ? fmt::format("{:.0f} B", bytes) : fmt::format("{:.2f} {}", bytes, units[unit]);
}

// 9848 -> "9,848"
std::string grouped(int64_t n) {
  std::string digits = std::to_string(n < 0 ? -n : n);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return n < 0 ? "-" + out : out;
}

std::string per_token_text(double bytes) {
  if (bytes == std::floor(bytes)) return grouped(static_cast<int64_t>(bytes));
  return fmt::format("{:.3f}", bytes);
}

}  // namespace

int64_t LayerTypeCost::fixed_bytes() const {
  return add(add(add(conv_state_bytes, ssm_state_bytes), add(window_bytes, compressor_ring_bytes)),
             indexer_ring_bytes);
}

double LayerTypeCost::growing_bytes_per_token() const {
  double bytes = static_cast<double>(kv_bytes_per_token);
  if (compress_ratio > 0)
    bytes += static_cast<double>(compressed_entry_bytes + indexer_entry_bytes) / static_cast<double>(compress_ratio);
  return bytes;
}

int64_t LayerTypeCost::growing_bytes(int64_t context_tokens) const {
  int64_t bytes = mul(context_tokens, kv_bytes_per_token);
  if (compress_ratio > 0)
    bytes = add(bytes, mul(context_tokens / compress_ratio, add(compressed_entry_bytes, indexer_entry_bytes)));
  return bytes;
}

MemoryPlan plan_memory(const Schedule& schedule, const ModelDims& dims, int64_t context_tokens, int64_t sequences,
                       std::optional<int64_t> budget_bytes) {
  validate_schedule(schedule);
  validate_dims(schedule, dims);
  if (context_tokens < 0) fail("context length {} is negative; expected 0 or more tokens", context_tokens);
  if (sequences < 1) fail("number of sequences {} is not positive; expected 1 or more", sequences);
  if (budget_bytes && *budget_bytes <= 0) fail("memory budget {} bytes is not positive", *budget_bytes);

  MemoryPlan plan;
  plan.state_dtype = dims.state_dtype;
  plan.cache_dtype = dims.cache_dtype;
  plan.context_tokens = context_tokens;
  plan.sequences = sequences;
  plan.budget_bytes = budget_bytes;
  for (const LayerSpec& l : schedule.layers) {
    LayerTypeCost cost = cost_of(l, dims);
    auto it = std::find_if(plan.types.begin(), plan.types.end(),
                           [&](const LayerTypeCost& c) { return c.type == cost.type; });
    if (it == plan.types.end()) it = plan.types.insert(plan.types.end(), std::move(cost));
    ++(l.mtp_depth == 0 ? it->main_layers : it->mtp_layers);
  }
  for (const LayerTypeCost& c : plan.types) {
    const int64_t fixed = c.fixed_bytes();
    const int64_t growing = c.growing_bytes(context_tokens);
    plan.main_fixed_bytes = add(plan.main_fixed_bytes, mul(c.main_layers, fixed));
    plan.mtp_fixed_bytes = add(plan.mtp_fixed_bytes, mul(c.mtp_layers, fixed));
    plan.main_growing_bytes = add(plan.main_growing_bytes, mul(c.main_layers, growing));
    plan.mtp_growing_bytes = add(plan.mtp_growing_bytes, mul(c.mtp_layers, growing));
    plan.main_bytes_per_token += c.main_layers * c.growing_bytes_per_token();
    plan.mtp_bytes_per_token += c.mtp_layers * c.growing_bytes_per_token();
  }
  plan.bytes_per_sequence =
      add(add(plan.main_fixed_bytes, plan.mtp_fixed_bytes), add(plan.main_growing_bytes, plan.mtp_growing_bytes));
  plan.total_bytes = mul(plan.bytes_per_sequence, sequences);
  if (budget_bytes && plan.bytes_per_sequence > 0) plan.sequences_that_fit = *budget_bytes / plan.bytes_per_sequence;
  return plan;
}

nlohmann::json plan_to_json(const MemoryPlan& plan) {
  nlohmann::json types = nlohmann::json::array();
  for (const LayerTypeCost& c : plan.types) {
    types.push_back({
        {"type", c.type},
        {"main_layers", c.main_layers},
        {"mtp_layers", c.mtp_layers},
        {"fixed_bytes_per_layer",
         {{"total", c.fixed_bytes()},
          {"conv_state", c.conv_state_bytes},
          {"ssm_state", c.ssm_state_bytes},
          {"window", c.window_bytes},
          {"compressor_ring", c.compressor_ring_bytes},
          {"indexer_ring", c.indexer_ring_bytes}}},
        {"bytes_per_token_per_layer",
         {{"total", c.growing_bytes_per_token()},
          {"kv", c.kv_bytes_per_token},
          {"compressed_entries", c.compress_ratio > 0 ? static_cast<double>(c.compressed_entry_bytes) /
                                                            static_cast<double>(c.compress_ratio)
                                                      : 0.0},
          {"indexer_keys", c.compress_ratio > 0 ? static_cast<double>(c.indexer_entry_bytes) /
                                                      static_cast<double>(c.compress_ratio)
                                                : 0.0}}},
        {"compress_ratio", c.compress_ratio},
    });
  }
  nlohmann::json out = {
      {"state_dtype", dtype_name(plan.state_dtype)},
      {"cache_dtype", dtype_name(plan.cache_dtype)},
      {"context_tokens", plan.context_tokens},
      {"sequences", plan.sequences},
      {"layer_types", types},
      {"main", {{"fixed_bytes_per_sequence", plan.main_fixed_bytes},
                {"bytes_per_token", plan.main_bytes_per_token},
                {"growing_bytes_per_sequence", plan.main_growing_bytes}}},
      {"mtp", {{"fixed_bytes_per_sequence", plan.mtp_fixed_bytes},
               {"bytes_per_token", plan.mtp_bytes_per_token},
               {"growing_bytes_per_sequence", plan.mtp_growing_bytes}}},
      {"bytes_per_sequence", plan.bytes_per_sequence},
      {"gib_per_sequence", gib(plan.bytes_per_sequence)},
      {"total_bytes", plan.total_bytes},
      {"total_gib", gib(plan.total_bytes)},
  };
  out["budget_bytes"] = plan.budget_bytes ? nlohmann::json(*plan.budget_bytes) : nlohmann::json(nullptr);
  out["sequences_that_fit"] =
      plan.sequences_that_fit ? nlohmann::json(*plan.sequences_that_fit) : nlohmann::json(nullptr);
  return out;
}

std::string format_plan(const MemoryPlan& plan) {
  std::string out;
  out += fmt::format("state dtype {} (mamba2 conv/SSM state, compressor rings), cache dtype {} (K/V, "
                     "compressed entries, indexer keys)\n\n",
                     dtype_name(plan.state_dtype), dtype_name(plan.cache_dtype));
  out += fmt::format("{:<36} {:>6} {:>4} {:>19} {:>23}\n", "layer type", "layers", "mtp", "fixed B/seq/layer",
                     "growing B/token/layer");
  for (const LayerTypeCost& c : plan.types)
    out += fmt::format("{:<36} {:>6} {:>4} {:>19} {:>23}\n", c.type, c.main_layers, c.mtp_layers,
                       grouped(c.fixed_bytes()), per_token_text(c.growing_bytes_per_token()));
  out += "\nwhat a sequence holds per layer:\n";
  for (const LayerTypeCost& c : plan.types) {
    std::vector<std::string> fixed, growing;
    if (c.conv_state_bytes) fixed.push_back(fmt::format("conv state {} B", grouped(c.conv_state_bytes)));
    if (c.ssm_state_bytes) fixed.push_back(fmt::format("SSM state {} B", grouped(c.ssm_state_bytes)));
    if (c.window_bytes) fixed.push_back(fmt::format("window {} B", grouped(c.window_bytes)));
    if (c.compressor_ring_bytes)
      fixed.push_back(fmt::format("compressor ring {} B", grouped(c.compressor_ring_bytes)));
    if (c.indexer_ring_bytes) fixed.push_back(fmt::format("indexer ring {} B", grouped(c.indexer_ring_bytes)));
    if (c.kv_bytes_per_token) growing.push_back(fmt::format("K+V {} B/token", grouped(c.kv_bytes_per_token)));
    if (c.compress_ratio) {
      growing.push_back(fmt::format("compressed entry {} B per {} tokens", grouped(c.compressed_entry_bytes),
                                    c.compress_ratio));
      if (c.indexer_entry_bytes)
        growing.push_back(fmt::format("indexer key {} B per {} tokens", grouped(c.indexer_entry_bytes),
                                      c.compress_ratio));
    }
    std::string line = fixed.empty() ? std::string("nothing fixed") : fmt::format("{}", fmt::join(fixed, " + "));
    if (!growing.empty()) line += fmt::format("; grows by {}", fmt::join(growing, " + "));
    if (fixed.empty() && growing.empty()) line = "no cache";
    out += fmt::format("  {:<34} {}\n", c.type, line);
  }
  out += fmt::format("\n{:<13} {:>24}  {:>18}  {:>19}\n", "per sequence", "fixed (held for good)", "growing per token",
                     "growing at context");
  out += fmt::format("  main trunk  {:>24}  {:>18}  {:>19}\n", human(static_cast<double>(plan.main_fixed_bytes)),
                     per_token_text(plan.main_bytes_per_token) + " B",
                     human(static_cast<double>(plan.main_growing_bytes)));
  int mtp_layers = 0;
  for (const LayerTypeCost& c : plan.types) mtp_layers += c.mtp_layers;
  if (mtp_layers > 0)
    out += fmt::format("  MTP layers  {:>24}  {:>18}  {:>19}\n", human(static_cast<double>(plan.mtp_fixed_bytes)),
                     per_token_text(plan.mtp_bytes_per_token) + " B",
                     human(static_cast<double>(plan.mtp_growing_bytes)));
  out += fmt::format("\ncontext {} tokens: {} per sequence ({} B, fixed + growing{})\n",
                     grouped(plan.context_tokens), human(static_cast<double>(plan.bytes_per_sequence)),
                     grouped(plan.bytes_per_sequence), mtp_layers > 0 ? ", main + MTP" : "");
  out += fmt::format("x {} sequence(s): {} ({} B)\n", grouped(plan.sequences), human(static_cast<double>(plan.total_bytes)),
                     grouped(plan.total_bytes));
  if (plan.budget_bytes) {
    if (plan.sequences_that_fit)
      out += fmt::format("budget {}: {} sequences of {} tokens fit\n", human(static_cast<double>(*plan.budget_bytes)),
                         grouped(*plan.sequences_that_fit), grouped(plan.context_tokens));
    else
      out += fmt::format("budget {}: unlimited sequences fit (a sequence holds no cache)\n",
                         human(static_cast<double>(*plan.budget_bytes)));
  }
  return out;
}

}  // namespace strata::schedule
