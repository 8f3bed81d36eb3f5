#include "strata/schedule/layer_spec.h"

#include <fmt/format.h>

namespace strata::schedule {

std::string_view mixer_kind_name(MixerKind kind) {
  switch (kind) {
    case MixerKind::none: return "none";
    case MixerKind::mamba2: return "mamba2";
    case MixerKind::attention: return "attention";
    case MixerKind::attention_and_mamba2: return "attention+mamba2";
  }
  return "?";
}

std::string_view attention_kind_name(AttentionKind kind) {
  switch (kind) {
    case AttentionKind::full: return "full";
    case AttentionKind::sliding_window: return "sliding_window";
    case AttentionKind::compressed: return "compressed";
  }
  return "?";
}

std::string_view ffn_kind_name(FfnKind kind) {
  switch (kind) {
    case FfnKind::none: return "none";
    case FfnKind::mlp: return "mlp";
    case FfnKind::moe: return "moe";
  }
  return "?";
}

std::string_view router_mode_name(RouterMode mode) {
  switch (mode) {
    case RouterMode::none: return "none";
    case RouterMode::learned_top_k: return "learned_top_k";
    case RouterMode::token_hash: return "token_hash";
  }
  return "?";
}

namespace {

std::string attention_label(const AttentionSpec& a) {
  switch (a.kind) {
    case AttentionKind::full: return "attention";
    case AttentionKind::sliding_window: return fmt::format("swa(window={})", a.window);
    case AttentionKind::compressed:
      // DeepSeek-V4's names: the sparse (indexer) variant is CSA, the dense heavy one HCA.
      if (a.sparse_top_k > 0)
        return fmt::format("csa(ratio={}, top-{}, window={})", a.compress_ratio, a.sparse_top_k, a.window);
      return fmt::format("hca(ratio={}, window={})", a.compress_ratio, a.window);
  }
  return "?";
}

}  // namespace

std::string mixer_label(const LayerSpec& layer) {
  switch (layer.mixer) {
    case MixerKind::none: return "none";
    case MixerKind::mamba2: return "mamba2";
    case MixerKind::attention: return attention_label(layer.attention);
    case MixerKind::attention_and_mamba2:
      if (layer.shared_block >= 0) return fmt::format("shared_{}[{}]+mamba2", attention_label(layer.attention), layer.shared_block);
      return attention_label(layer.attention) + "+mamba2";
  }
  return "?";
}

std::string layer_label(const LayerSpec& layer) {
  std::string ffn;
  if (layer.ffn == FfnKind::mlp) ffn = "mlp";
  if (layer.ffn == FfnKind::moe) ffn = layer.router == RouterMode::token_hash ? "moe[hash]" : "moe";
  if (layer.mixer == MixerKind::none) return ffn.empty() ? "none" : ffn;
  return ffn.empty() ? mixer_label(layer) : mixer_label(layer) + " + " + ffn;
}

LayerSpec mamba2_layer(int index, int mtp_depth) {
  LayerSpec layer;
  layer.index = index;
  layer.mixer = MixerKind::mamba2;
  layer.mtp_depth = mtp_depth;
  return layer;
}

LayerSpec full_attention_layer(int index, int mtp_depth) {
  LayerSpec layer;
  layer.index = index;
  layer.mixer = MixerKind::attention;
  layer.mtp_depth = mtp_depth;
  return layer;
}

LayerSpec mlp_layer(int index, int mtp_depth) {
  LayerSpec layer;
  layer.index = index;
  layer.ffn = FfnKind::mlp;
  layer.mtp_depth = mtp_depth;
  return layer;
}

LayerSpec moe_layer(int index, int mtp_depth, RouterMode router) {
  LayerSpec layer;
  layer.index = index;
  layer.ffn = FfnKind::moe;
  layer.router = router;
  layer.mtp_depth = mtp_depth;
  return layer;
}

}  // namespace strata::schedule
