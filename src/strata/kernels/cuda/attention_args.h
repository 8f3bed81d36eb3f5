// What the paged-attention kernels read and write, flattened to device pointers and strides (elements),
// and the launchers attention.cpp runs in order on one stream: store (attention_store.cu), then prefill
// (attention_prefill.cu) and/or split-KV decode + combine (attention_decode.cu). Plain C++.
#pragma once

#include <cstdint>

namespace strata::kernels::cuda {

struct AttentionArgs {
  int n_heads = 0, n_kv_heads = 0, head_dim = 0, group = 0;  // group = n_heads / n_kv_heads
  int64_t block_size = 0, window = 0, table_stride = 0;      // window 0 = unlimited
  float scale = 0.0f;                                         // already resolved (never 0)

  const float *q = nullptr, *k = nullptr, *v = nullptr;
  int64_t q_stride = 0, k_stride = 0, v_stride = 0;  // row strides; columns are unit-stride
  float* out = nullptr;
  int64_t out_stride = 0;

  void* k_pool = nullptr;  // [num_blocks, block_size, Hkv, hd], f32 or bf16 (pool_bf16)
  void* v_pool = nullptr;
  bool pool_bf16 = false;
  // Pool rows may be copied in 16-byte pieces: head_dim is a multiple of 16 / element size and both
  // pools are 16-byte aligned.
  bool pool_vector = false;
  const int32_t* block_tables = nullptr;  // [num_slots, table_stride]

  // Batch metadata on the device; sequence i owns rows [cu_seqlens[i] - row_offset, cu_seqlens[i+1] - row_offset).
  const int64_t* cu_seqlens = nullptr;
  const int32_t* slots = nullptr;
  const int64_t* start_positions = nullptr;
  int64_t row_offset = 0;
  int num_sequences = 0;
  int64_t num_tokens = 0;
};

// Sequences with at most this many new tokens go to the split-KV decode kernel, longer ones to prefill.
constexpr int64_t kDecodeMaxTokens = 8;

// The split-KV decode plan: fixed by shapes (sequence count, heads, longest short sequence), never by
// positions, so a captured decode step replays at any position.
struct DecodePlan {
  int max_tokens = 0;  // longest decode sequence of the step (<= kDecodeMaxTokens); rows per sequence
  int row_chunks = 0;  // blocks per kv head: ceil(max_tokens * group / kDecodeRows)
  int num_splits = 0;  // blocks per (sequence, kv head, row chunk) along the positions
  // num_splits > 1: per (sequence, token < max_tokens, q head, split) an unnormalised output row and its
  // running max and sum, in the caller's scratch; the combine kernel writes out.
  float* partial_out = nullptr;  // [S * max_tokens * Hq * num_splits, head_dim]
  float* partial_max = nullptr;  // [S * max_tokens * Hq * num_splits]
  float* partial_sum = nullptr;
};

// Query rows (token x q head of one kv head) one decode block attends with; positions per decode K/V
// tile (no split is shorter); query tokens per prefill block.
constexpr int kDecodeRows = 16;
constexpr int kDecodeKeys = 64;
constexpr int kPrefillQueries = 64;
constexpr int kDecodeMaxSplits = 256;

// Scratch floats a plan with these sizes needs (0 when num_splits == 1).
int64_t decode_scratch_floats(const AttentionArgs& args, const DecodePlan& plan);

// Grid limits (65535 query tiles, kv heads x row chunks) are the caller's to check.
// (a) k, v rows into the pools; zeroes out rows of padding sequences (slot < 0).
void launch_store(const AttentionArgs& args, void* stream);
// (b) sequences with more than kDecodeMaxTokens tokens; `longest` (host) sizes the grid.
void launch_prefill(const AttentionArgs& args, int64_t longest, void* stream);
// (b) sequences with 1..plan.max_tokens tokens.
void launch_decode(const AttentionArgs& args, const DecodePlan& plan, void* stream);

}  // namespace strata::kernels::cuda
