// Paged causal attention for a packed varlen batch: stores each sequence's new keys and values into its
// KV blocks, then attends every new token over its cached prefix and itself (GQA, optional sliding
// window), with a streaming fp32 softmax. Decode, chunked prefill and (1+S)-token verify are one call.
#pragma once

#include <cstdint>
#include <span>

#include "strata/core/tensor.h"
#include "strata/core/thread_pool.h"
#include "strata/kernels/attention.h"
#include "strata/kernels/varlen.h"

namespace strata::kernels::cpu {

// The operands are declared with the neutral entry point (kernels/attention.h).
using kernels::kMaxAttentionHeadDim;
using kernels::kMaxAttentionRows;
using kernels::PagedAttentionParams;
using kernels::PagedKv;
using kernels::PagedAttentionInputs;

// Throws strata::Error naming the field when the params, batch, start positions (one per sequence,
// >= 0), tensors or block tables (every block a step touches present and in range) do not fit.
// out: f32 [T, Hq*hd], same row conventions as q.
using kernels::check_paged_attention;  // declared with the neutral entry point

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
