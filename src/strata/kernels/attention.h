// Paged causal attention for a packed varlen batch: stores each sequence's new keys and values into its
// KV blocks, then attends every new token over its cached prefix and itself (GQA, optional sliding
// window). Decode, chunked prefill and (1+S)-token verify are one call. Neutral entry point.
#pragma once

#include <cstdint>
#include <span>

#include "strata/core/exec.h"
#include "strata/core/tensor.h"
#include "strata/kernels/varlen.h"

namespace strata::kernels {

constexpr int64_t kMaxAttentionHeadDim = 256;

// Query rows (tokens x q heads of one kv head) one work item keeps in registers/L1; bounds Hq/Hkv.
constexpr int64_t kMaxAttentionRows = 64;

struct PagedAttentionParams {
  int64_t n_heads = 0;     // Hq, query heads
  int64_t n_kv_heads = 0;  // Hkv; q head h reads kv head h / (Hq/Hkv)
  int64_t head_dim = 0;      // hd, at most kMaxAttentionHeadDim
  int64_t sliding_window = 0;  // a token at position p sees [p - window + 1, p]; 0 = unlimited
  float scale = 0.0f;          // applied to q·k; 0 means head_dim^-0.5
};

// The paged KV store of one attention layer (views from cache::PagedKvCache).
struct PagedKv {
  Tensor k_pool;        // f32|bf16 [num_blocks, block_size, Hkv, hd], contiguous
  Tensor v_pool;        // same shape and dtype
  Tensor block_tables;  // i32 [num_slots, max_blocks_per_slot], row = slot, entry j holds positions
                        // [j*block_size, (j+1)*block_size)
};

// Per-token activations, f32, token-major; rows may be windows of a wider buffer (row stride >= width,
// unit column stride), e.g. the q, k and v column ranges of a fused qkv projection.
struct PagedAttentionInputs {
  Tensor q;  // [T, Hq*hd]
  Tensor k;  // [T, Hkv*hd]
  Tensor v;  // [T, Hkv*hd]
};

void check_paged_attention(const PagedAttentionParams& params, const VarlenBatch& batch,
                           std::span<const int64_t> start_positions, const PagedAttentionInputs& inputs,
                           const PagedKv& kv, const Tensor& out);

// See cpu/attention.h for the exact semantics. out may alias q.
void paged_attention(const PagedAttentionParams& params, const VarlenBatch& batch,
                     Mirrored<int64_t> start_positions, const PagedAttentionInputs& inputs,
                     const PagedKv& kv, const Tensor& out, const Exec& exec);

}  // namespace strata::kernels
