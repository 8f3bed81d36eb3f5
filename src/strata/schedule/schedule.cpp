#include "strata/schedule/schedule.h"

#include <algorithm>

#include "strata/core/error.h"
#include "strata/schedule/pattern.h"

namespace strata::schedule {

int Schedule::main_layer_count() const {
  return static_cast<int>(
      std::count_if(layers.begin(), layers.end(), [](const LayerSpec& l) { return l.mtp_depth == 0; }));
}

int Schedule::mtp_depths() const {
  int depth = 0;
  for (const LayerSpec& l : layers) depth = std::max(depth, l.mtp_depth);
  return depth;
}

namespace {

LayerSpec layer_from_symbol(char symbol, int index, int mtp_depth) {
  switch (symbol) {
    case kMamba: return mamba2_layer(index, mtp_depth);
    case kAttention: return full_attention_layer(index, mtp_depth);
    case kMlp: return mlp_layer(index, mtp_depth);
    case kMoe: return moe_layer(index, mtp_depth);
    default: break;
  }
  // parse_pattern() has validated every symbol before we get here.
  fail("layer {}: '{}' is not a layer symbol (expected one of M * - E)", index, symbol);
}

// The Megatron symbol of a layer, or 0 when it has none.
char symbol_of(const LayerSpec& l) {
  if (l.mixer == MixerKind::mamba2 && l.ffn == FfnKind::none) return kMamba;
  if (l.mixer == MixerKind::attention && l.attention == AttentionSpec{} && l.ffn == FfnKind::none)
    return kAttention;
  if (l.mixer == MixerKind::none && l.ffn == FfnKind::mlp) return kMlp;
  if (l.mixer == MixerKind::none && l.ffn == FfnKind::moe && l.router == RouterMode::learned_top_k) return kMoe;
  return 0;
}

// Same layer type ignoring position: what must match across MTP depths.
bool same_type(const LayerSpec& a, const LayerSpec& b) {
  return a.mixer == b.mixer && a.attention == b.attention && a.ffn == b.ffn && a.router == b.router;
}

void validate_attention(const LayerSpec& l) {
  const AttentionSpec& a = l.attention;
  if (a.window < 0 || a.compress_ratio < 0 || a.sparse_top_k < 0)
    fail("layer {}: attention window ({}), compress ratio ({}) and sparse top-k ({}) must not be negative",
         l.index, a.window, a.compress_ratio, a.sparse_top_k);
  switch (a.kind) {
    case AttentionKind::full:
      if (a.window != 0 || a.compress_ratio != 0 || a.sparse_top_k != 0)
        fail("layer {}: full attention takes no window, compress ratio or top-k (got window {}, ratio {}, "
             "top-k {}); use sliding_window or compressed",
             l.index, a.window, a.compress_ratio, a.sparse_top_k);
      break;
    case AttentionKind::sliding_window:
      if (a.window <= 0) fail("layer {}: sliding-window attention needs a window > 0, got {}", l.index, a.window);
      if (a.compress_ratio != 0 || a.sparse_top_k != 0)
        fail("layer {}: sliding-window attention takes no compress ratio or top-k (got ratio {}, top-k {})",
             l.index, a.compress_ratio, a.sparse_top_k);
      break;
    case AttentionKind::compressed:
      if (a.compress_ratio < 2)
        fail("layer {}: compressed attention needs a compress ratio >= 2, got {}", l.index, a.compress_ratio);
      if (a.window <= 0)
        fail("layer {}: compressed attention needs a raw window > 0, got {}", l.index, a.window);
      break;
  }
}

void validate_layer(const LayerSpec& l, int position) {
  if (l.index != position) fail("layer {}: index is {}, expected {} (its position)", position, l.index, position);
  if (l.mixer == MixerKind::none && l.ffn == FfnKind::none)
    fail("layer {}: has neither a mixer nor an FFN; expected at least one", l.index);
  if (has_attention(l)) {
    validate_attention(l);
  } else if (!(l.attention == AttentionSpec{})) {
    fail("layer {}: attention settings given on a {} layer; expected them only on attention layers", l.index,
         mixer_kind_name(l.mixer));
  }
  if (l.ffn == FfnKind::moe && l.router == RouterMode::none)
    fail("layer {}: MoE layer has no router mode; expected learned_top_k or token_hash", l.index);
  if (l.ffn != FfnKind::moe && l.router != RouterMode::none)
    fail("layer {}: router mode {} on a layer whose FFN is {}; expected a router only on MoE layers", l.index,
         router_mode_name(l.router), ffn_kind_name(l.ffn));
  if (l.mtp_depth < 0) fail("layer {}: MTP depth {} is negative; expected 0 (main) or more", l.index, l.mtp_depth);
  if (l.shared_block >= 0 && l.mixer != MixerKind::attention_and_mamba2)
    fail("layer {}: shared block {} on a {} layer; expected it only on attention+mamba2 layers", l.index,
         l.shared_block, mixer_kind_name(l.mixer));
  if (l.shared_block < -1) fail("layer {}: shared block {} is negative; expected -1 (none) or a block index", l.index, l.shared_block);
}

}  // namespace

Schedule schedule_from_pattern(std::string_view pattern) {
  const ParsedPattern parsed = parse_pattern(pattern);
  if (!parsed.main || parsed.main->empty())
    fail("pattern '{}' has no main layers; expected at least one of M * - E before any '/'", pattern);
  Schedule schedule;
  for (char symbol : *parsed.main) schedule.layers.push_back(layer_from_symbol(symbol, schedule.size(), 0));
  for (int depth = 1; depth <= parsed.mtp_depths; ++depth)
    for (char symbol : *parsed.mtp) schedule.layers.push_back(layer_from_symbol(symbol, schedule.size(), depth));
  validate_schedule(schedule);
  return schedule;
}

std::string schedule_to_pattern(const Schedule& schedule) {
  std::string out;
  int depth = 0;
  for (const LayerSpec& l : schedule.layers) {
    const char symbol = symbol_of(l);
    if (!symbol)
      fail("layer {} ({}) has no Megatron pattern symbol; only plain mamba2, full attention, MLP and "
           "learned-routing MoE layers do",
           l.index, layer_label(l));
    for (; depth < l.mtp_depth; ++depth) out += kMtpSeparator;
    out += symbol;
  }
  return out;
}

void validate_schedule(const Schedule& schedule) {
  if (schedule.layers.empty()) fail("schedule has no layers; expected at least one main layer");
  for (int i = 0; i < schedule.size(); ++i) validate_layer(schedule.layers[i], i);
  if (schedule.layers[0].mtp_depth != 0)
    fail("layer 0: MTP depth {}; expected the schedule to start with main layers (depth 0)",
         schedule.layers[0].mtp_depth);
  // MTP depths come in order, each a copy of depth 1's layer types (Megatron requires identical
  // MTP patterns).
  std::vector<const LayerSpec*> depth_one;
  size_t at_in_depth = 0;
  for (int i = 1; i < schedule.size(); ++i) {
    const LayerSpec& prev = schedule.layers[i - 1];
    const LayerSpec& l = schedule.layers[i];
    if (l.mtp_depth != prev.mtp_depth && l.mtp_depth != prev.mtp_depth + 1)
      fail("layer {}: MTP depth {} follows depth {}; expected depths to ascend by one (main 0, then 1, 2, ...)",
           l.index, l.mtp_depth, prev.mtp_depth);
    if (l.mtp_depth == 0) continue;
    if (l.mtp_depth != prev.mtp_depth) {
      if (l.mtp_depth > 1 && at_in_depth != depth_one.size())
        fail("layer {}: MTP depth {} ended after {} layers; expected {} like depth 1", l.index, prev.mtp_depth,
             at_in_depth, depth_one.size());
      at_in_depth = 0;
    }
    if (l.mtp_depth == 1) {
      depth_one.push_back(&l);
    } else {
      if (at_in_depth >= depth_one.size() || !same_type(*depth_one[at_in_depth], l))
        fail("layer {}: MTP depth {} layer {} is {}; expected {} as at depth 1", l.index, l.mtp_depth,
             at_in_depth, layer_label(l),
             at_in_depth < depth_one.size() ? layer_label(*depth_one[at_in_depth]) : "no layer");
    }
    ++at_in_depth;
  }
  if (schedule.mtp_depths() > 1 && at_in_depth != depth_one.size())
    fail("layer {}: MTP depth {} ended after {} layers; expected {} like depth 1", schedule.size() - 1,
         schedule.mtp_depths(), at_in_depth, depth_one.size());
}

void validate_dims(const Schedule& schedule, const ModelDims& dims) {
  const MambaDims& m = dims.mamba;
  const AttentionDims& a = dims.attention;
  const std::pair<const char*, int64_t> all[] = {
      {"hidden size", dims.hidden_size},     {"vocab size", dims.vocab_size},
      {"mamba heads", m.n_heads},            {"mamba head dim", m.head_dim},
      {"mamba state size", m.state_size},    {"mamba groups", m.n_groups},
      {"mamba conv kernel", m.conv_kernel},  {"mamba chunk size", m.chunk_size},
      {"attention heads", a.n_heads},        {"kv heads", a.n_kv_heads},
      {"attention head dim", a.head_dim},    {"shared kv width", a.shared_kv_width},
      {"indexer key width", a.indexer_key_width}};
  for (const auto& [name, value] : all)
    if (value < 0 || value > kMaxConfigInteger)
      fail("model dims: {} is {}; expected a non-negative number of at most {}", name, value, kMaxConfigInteger);

  for (const LayerSpec& l : schedule.layers) {
    if (has_mamba2(l)) {
      if (m.n_heads <= 0 || m.head_dim <= 0 || m.state_size <= 0 || m.n_groups <= 0 || m.conv_kernel <= 0)
        fail("layer {} is mamba2 but the mamba dims are incomplete (heads {}, head dim {}, state size {}, "
             "groups {}, conv kernel {}); expected all > 0 (--mamba-heads, --mamba-head-dim, --mamba-state, "
             "--mamba-groups, --conv-kernel)",
             l.index, m.n_heads, m.head_dim, m.state_size, m.n_groups, m.conv_kernel);
      if (m.n_heads % m.n_groups != 0)
        fail("layer {} is mamba2 but mamba heads ({}) are not divisible by groups ({})", l.index, m.n_heads,
             m.n_groups);
    }
    if (has_attention(l)) {
      if (a.shared_kv_width <= 0 && (a.n_kv_heads <= 0 || a.head_dim <= 0))
        fail("layer {} is attention but kv heads ({}) and head dim ({}) are not both > 0 and no shared K=V "
             "width is set; expected --kv-heads and --head-dim (or --shared-kv-width)",
             l.index, a.n_kv_heads, a.head_dim);
      if (a.n_heads > 0 && a.n_kv_heads > 0 && a.n_heads % a.n_kv_heads != 0)
        fail("layer {} is attention but attention heads ({}) are not a multiple of kv heads ({})", l.index,
             a.n_heads, a.n_kv_heads);
      if (l.attention.kind == AttentionKind::compressed && l.attention.sparse_top_k > 0 && a.indexer_key_width <= 0)
        fail("layer {} is sparse compressed attention (top-{}) but the indexer key width is not set; expected "
             "--indexer-key-width > 0",
             l.index, l.attention.sparse_top_k);
    }
  }
}

}  // namespace strata::schedule
