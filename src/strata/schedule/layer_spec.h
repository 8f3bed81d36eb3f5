// LayerSpec: the architectural type of one layer, enough to size its cache and pick its forward
// without building it. A layer has a sequence mixer (Mamba2, an attention variant, or none) and an FFN
// (none, MLP, MoE with a router mode); Megatron patterns use one of the two per layer, DeepSeek-V4 both.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace strata::schedule {

// The part of a layer that mixes information across tokens (and so holds per-sequence state).
// attention_and_mamba2 is both at once, each with its own state: Falcon-H1 runs them in parallel on the
// same normed input; a Zamba2 hybrid layer runs a shared attention block whose output feeds the Mamba2
// mixer (LayerSpec::shared_block says which block).
enum class MixerKind : uint8_t { none, mamba2, attention, attention_and_mamba2 };

// How an attention layer sees the past.
//   full:           every past token's K and V (grows with the context).
//   sliding_window: only the last `window` tokens (fixed size per sequence).
//   compressed:     every `compress_ratio` tokens pooled into one entry (grows at 1/ratio), plus a raw
//                   window of the last `window` tokens; with `sparse_top_k` > 0 a lightning indexer picks
//                   that many compressed entries per query (DeepSeek-V4 CSA), else all are used (HCA).
enum class AttentionKind : uint8_t { full, sliding_window, compressed };

// The per-token feed-forward part.
enum class FfnKind : uint8_t { none, mlp, moe };

// How a MoE layer picks experts: learned top-k over router scores, or a fixed table indexed by the
// input token id (DeepSeek-V4's first layers), which needs the token ids in the forward.
enum class RouterMode : uint8_t { none, learned_top_k, token_hash };

struct AttentionSpec {
  AttentionKind kind = AttentionKind::full;
  int64_t window = 0;          // sliding_window and compressed: raw tokens kept
  int64_t compress_ratio = 0;  // compressed: tokens pooled per entry (>= 2)
  int64_t sparse_top_k = 0;    // compressed: entries selected by the indexer; 0 = attend to all
  bool operator==(const AttentionSpec&) const = default;
};

struct LayerSpec {
  int index = 0;  // position in the schedule (main layers first, then MTP depth 1, 2, ...)
  MixerKind mixer = MixerKind::none;
  AttentionSpec attention;  // meaningful only when mixer == attention; default otherwise
  FfnKind ffn = FfnKind::none;
  RouterMode router = RouterMode::none;  // non-none exactly when ffn == moe
  int mtp_depth = 0;                     // 0 = main trunk; d >= 1 = the d-th multi-token-prediction depth
  // Zamba2: the shared transformer block (0-based, weights shared across layers) whose output feeds this
  // layer's Mamba2 mixer; its attention keeps a KV cache per layer that uses it. -1 = none.
  int shared_block = -1;
  bool operator==(const LayerSpec&) const = default;
};

// Whether the layer holds Mamba2 state / an attention KV cache (one each for attention_and_mamba2).
inline bool has_mamba2(const LayerSpec& l) {
  return l.mixer == MixerKind::mamba2 || l.mixer == MixerKind::attention_and_mamba2;
}
inline bool has_attention(const LayerSpec& l) {
  return l.mixer == MixerKind::attention || l.mixer == MixerKind::attention_and_mamba2;
}

std::string_view mixer_kind_name(MixerKind kind);  // "none", "mamba2", "attention", "attention+mamba2"
std::string_view attention_kind_name(AttentionKind kind);  // "full", "sliding_window", "compressed"
std::string_view ffn_kind_name(FfnKind kind);              // "none", "mlp", "moe"
std::string_view router_mode_name(RouterMode mode);        // "none", "learned_top_k", "token_hash"

// The mixer part alone, short and readable, used to group layers that hold the same cache:
// "mamba2", "attention", "swa(window=128)", "csa(ratio=4, top-512, window=128)",
// "hca(ratio=128, window=128)", "attention+mamba2" (parallel), "shared_attention[0]+mamba2" (Zamba2's
// hybrid layer using shared block 0), or "none" for a layer with no mixer.
std::string mixer_label(const LayerSpec& layer);

// The whole layer, e.g. "mamba2", "mlp", "moe", "csa(ratio=4, top-512, window=128) + moe[hash]".
std::string layer_label(const LayerSpec& layer);

// Layers as Megatron writes them; each has exactly one of mixer/ffn.
LayerSpec mamba2_layer(int index, int mtp_depth = 0);
LayerSpec full_attention_layer(int index, int mtp_depth = 0);
LayerSpec mlp_layer(int index, int mtp_depth = 0);
LayerSpec moe_layer(int index, int mtp_depth = 0, RouterMode router = RouterMode::learned_top_k);

}  // namespace strata::schedule
