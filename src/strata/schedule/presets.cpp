#include "strata/schedule/presets.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "strata/core/error.h"

namespace strata::schedule {

namespace {

constexpr int64_t kDsv4Window = 128;
constexpr int64_t kDsv4CsaRatio = 4;
constexpr int64_t kDsv4HcaRatio = 128;
constexpr int kDsv4SpecialFirstLayers = 2;
constexpr int kDsv4HashRoutedLayers = 3;

AttentionSpec sliding_window(int64_t window) { return {AttentionKind::sliding_window, window, 0, 0}; }
AttentionSpec csa(int64_t top_k) { return {AttentionKind::compressed, kDsv4Window, kDsv4CsaRatio, top_k}; }
AttentionSpec hca() { return {AttentionKind::compressed, kDsv4Window, kDsv4HcaRatio, 0}; }

LayerSpec attention_moe_layer(int index, AttentionSpec attention, RouterMode router, int mtp_depth) {
  LayerSpec layer;
  layer.index = index;
  layer.mixer = MixerKind::attention;
  layer.attention = attention;
  layer.ffn = FfnKind::moe;
  layer.router = router;
  layer.mtp_depth = mtp_depth;
  return layer;
}

// Values from the DeepSeek-V4 config.json files (peers.md §5.1): one shared 512-wide K=V head,
// a 128-wide lightning-indexer key.
ModelDims dsv4_dims(Dsv4Variant variant) {
  ModelDims dims;
  const bool pro = variant == Dsv4Variant::pro;
  dims.hidden_size = pro ? 7168 : 4096;
  dims.vocab_size = 129280;
  dims.attention.n_heads = pro ? 128 : 64;
  dims.attention.n_kv_heads = 1;
  dims.attention.head_dim = 512;
  dims.attention.shared_kv_width = 512;
  dims.attention.indexer_key_width = 128;
  return dims;
}

// Nemotron-H-8B-Base-8K (kernels_models.md §2.2).
constexpr std::string_view kNemotronH8bPattern = "M-M-M-M*-M-M-M-M-M*-M-M-M-M-M*-M-M-M-M-M*-M-M-M-M-M-";

ModelDims nemotron_h_8b_dims() {
  ModelDims dims;
  dims.hidden_size = 4096;
  dims.vocab_size = 131072;
  dims.mamba = {.n_heads = 128, .head_dim = 64, .state_size = 128, .n_groups = 8, .conv_kernel = 4,
                .chunk_size = 128};
  dims.attention.n_heads = 32;
  dims.attention.n_kv_heads = 8;
  dims.attention.head_dim = 128;
  return dims;
}

}  // namespace

Schedule dsv4_schedule(Dsv4Variant variant, int mtp_layers) {
  const bool pro = variant == Dsv4Variant::pro;
  const int trunk = pro ? 61 : 43;
  const int64_t top_k = pro ? 1024 : 512;
  Schedule schedule;
  for (int i = 0; i < trunk; ++i) {
    AttentionSpec attention;
    if (i < kDsv4SpecialFirstLayers)
      attention = pro ? hca() : sliding_window(kDsv4Window);
    else
      attention = (i - kDsv4SpecialFirstLayers) % 2 == 0 ? csa(top_k) : hca();
    const RouterMode router = i < kDsv4HashRoutedLayers ? RouterMode::token_hash : RouterMode::learned_top_k;
    schedule.layers.push_back(attention_moe_layer(i, attention, router, 0));
  }
  // MTP layers: compress ratio 0 in the config, i.e. sliding-window only.
  for (int depth = 1; depth <= mtp_layers; ++depth)
    schedule.layers.push_back(
        attention_moe_layer(schedule.size(), sliding_window(kDsv4Window), RouterMode::learned_top_k, depth));
  validate_schedule(schedule);
  return schedule;
}

const std::vector<std::string>& preset_names() {
  static const std::vector<std::string> names = {"dsv4-flash", "dsv4-pro", "nemotron-h-8b"};
  return names;
}

Preset make_preset(std::string_view name) {
  if (name == "dsv4-flash")
    return {"dsv4-flash",
            "DeepSeek-V4-Flash: 43 layers (+1 MTP), SWA x2 then CSA(4, top-512)/HCA(128), MoE everywhere",
            dsv4_schedule(Dsv4Variant::flash), dsv4_dims(Dsv4Variant::flash)};
  if (name == "dsv4-pro")
    return {"dsv4-pro",
            "DeepSeek-V4-Pro: 61 layers (+1 MTP), HCA x2 then CSA(4, top-1024)/HCA(128), MoE everywhere",
            dsv4_schedule(Dsv4Variant::pro), dsv4_dims(Dsv4Variant::pro)};
  if (name == "nemotron-h-8b")
    return {"nemotron-h-8b", "Nemotron-H-8B-Base-8K: 52 layers (24 mamba2, 4 attention, 24 MLP)",
            schedule_from_pattern(kNemotronH8bPattern), nemotron_h_8b_dims()};
  fail("unknown preset '{}'; expected one of: {}", name, fmt::join(preset_names(), ", "));
}

}  // namespace strata::schedule
