// Paged causal attention for a packed varlen batch: stores each sequence's new keys and values into its
// KV blocks, then attends every new token over its cached prefix and itself (GQA, optional sliding
// window), with a streaming fp32 softmax. Decode, chunked prefill and (1+S)-token verify are one call.
#pragma once

#include <cstdint>
#include <span>

#include "strata/core/tensor.h"
#include "strata/core/thread_pool.h"
#include "strata/kernels/cpu/varlen.h"

namespace strata::kernels::cpu {

constexpr int64_t kMaxAttentionHeadDim = 256;
// Query rows (tokens x q heads of one kv head) one work item keeps in registers/L1; bounds Hq/Hkv.
constexpr int64_t kMaxAttentionRows = 64;

struct PagedAttentionParams {
  int64_t num_q_heads = 0;   // Hq
  int64_t num_kv_heads = 0;  // Hkv; q head h reads kv head h / (Hq/Hkv)
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

// Throws strata::Error naming the field when the params, batch, start positions (one per sequence,
// >= 0), tensors or block tables (every block a step touches present and in range) do not fit.
// out: f32 [T, Hq*hd], same row conventions as q.
void check_paged_attention(const PagedAttentionParams& params, const VarlenBatch& batch,
                           std::span<const int64_t> start_positions, const PagedAttentionInputs& inputs,
                           const PagedKv& kv, const Tensor& out);

// For sequence i with slot s = batch.slots[i], start = start_positions[i] (tokens already cached) and
// length n: (a) writes k, v rows of its tokens at positions start .. start+n-1 of slot s's blocks
// (converting to the pool dtype), then (b) for token j at position p = start + j and q head h computes
//   out[j, h] = sum_{u in [max(0, p-window+1), p]} softmax_u(scale * q[j,h]·K[u, h/(Hq/Hkv)]) V[u, ...]
// with scores, max and normaliser in fp32 (keys and values read back from the pool, so a bf16 pool's
// rounding is seen consistently by every later step). A negative slot marks padding: out rows are zero
// and nothing is stored. Allocates nothing; q/k/v may not overlap the pools; out may alias q.
void paged_attention(const PagedAttentionParams& params, const VarlenBatch& batch,
                     std::span<const int64_t> start_positions, const PagedAttentionInputs& inputs,
                     const PagedKv& kv, const Tensor& out, ThreadPool& pool);

}  // namespace strata::kernels::cpu
