// kernels::cuda::paged_attention: flattens the operands into AttentionArgs, stores the new keys and
// values (one launch), then attends: the prefill kernel for sequences longer than kDecodeMaxTokens, the
// split-KV decode kernel (+ combine) for the rest. Which kernels run and their grids follow from host
// lengths and shapes only; every position and slot the kernels use is read on the device. The operands
// are checked like the CPU's (check_paged_attention) first.
#include "strata/kernels/cuda/attention.h"

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "strata/core/cuda_context.h"
#include "strata/core/error.h"
#include "strata/kernels/cuda/attention_args.h"

namespace strata::kernels::cuda {
namespace {

bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

AttentionArgs args_of(const PagedAttentionParams& params, const VarlenBatch& batch,
                      const Mirrored<int64_t>& starts, const PagedAttentionInputs& in, const PagedKv& kv,
                      const Tensor& out) {
  AttentionArgs a;
  a.n_heads = static_cast<int>(params.n_heads);
  a.n_kv_heads = static_cast<int>(params.n_kv_heads);
  a.head_dim = static_cast<int>(params.head_dim);
  a.group = a.n_heads / a.n_kv_heads;
  a.block_size = kv.k_pool.size(1);
  a.window = params.sliding_window;
  a.table_stride = kv.block_tables.stride(0);
  a.scale = params.scale != 0.0f ? params.scale : 1.0f / std::sqrt(static_cast<float>(params.head_dim));
  a.q = in.q.ptr<float>();
  a.k = in.k.ptr<float>();
  a.v = in.v.ptr<float>();
  a.q_stride = in.q.stride(0);
  a.k_stride = in.k.stride(0);
  a.v_stride = in.v.stride(0);
  a.out = out.ptr<float>();
  a.out_stride = out.stride(0);
  a.k_pool = kv.k_pool.data;
  a.v_pool = kv.v_pool.data;
  a.pool_bf16 = kv.k_pool.dtype == DType::bf16;
  const int64_t vector = a.pool_bf16 ? 8 : 4;  // elements per 16 bytes
  a.pool_vector = params.head_dim % vector == 0 && aligned16(a.k_pool) && aligned16(a.v_pool);
  a.block_tables = kv.block_tables.ptr<int32_t>();
  a.cu_seqlens = batch.device.cu_seqlens;
  a.slots = batch.device.slots;
  a.start_positions = starts.device;
  a.row_offset = batch.device.row_offset;
  a.num_sequences = static_cast<int>(batch.num_sequences());
  // Rows of this call (host spans may be a window of a step's arrays, like the device ones).
  a.num_tokens = batch.num_tokens() - batch.cu_seqlens.front();
  return a;
}

}  // namespace

void paged_attention(const PagedAttentionParams& params, const VarlenBatch& batch,
                     Mirrored<int64_t> start_positions, const PagedAttentionInputs& inputs,
                     const PagedKv& kv, const Tensor& out, const Exec& exec) {
  // The CPU's operand checks (shapes, dtypes, strides, host start positions against the table width;
  // a device block table is not read). A bad operand here would be an out-of-bounds device access.
  check_paged_attention(params, batch, start_positions.host, inputs, kv, out);
  if (batch.num_sequences() == 0 || batch.num_tokens() == batch.cu_seqlens.front()) return;
  if (batch.device.cu_seqlens == nullptr || batch.device.slots == nullptr)
    fail("paged_attention on CUDA: the batch has no device cu_seqlens / slots (VarlenBatch::device)");
  if (start_positions.device == nullptr)
    fail("paged_attention on CUDA: start_positions has no device copy (Mirrored::device)");
  if (batch.num_sequences() > 65535)
    fail("paged_attention on CUDA: {} sequences exceed the CUDA grid (65535)", batch.num_sequences());
  CudaContext& context = exec.cuda();
  void* stream = context.stream();
  const AttentionArgs a = args_of(params, batch, start_positions, inputs, kv, out);

  // Host lengths decide which kernels run and size their grids (fixed for a captured step's shape).
  int64_t longest_prefill = 0, longest_decode = 0, decode_sequences = 0;
  for (int64_t i = 0; i < batch.num_sequences(); ++i) {
    const int64_t n = batch.length(i);
    if (n > kDecodeMaxTokens) {
      longest_prefill = std::max(longest_prefill, n);
    } else if (n > 0) {
      longest_decode = std::max(longest_decode, n);
      ++decode_sequences;
    }
  }
  if ((longest_prefill + kPrefillQueries - 1) / kPrefillQueries > 65535)
    fail("paged_attention on CUDA: a {}-token prefill exceeds the CUDA grid ({} tokens at most)", longest_prefill,
         65535 * kPrefillQueries);

  DecodePlan plan;
  if (longest_decode > 0) {
    plan.max_tokens = static_cast<int>(longest_decode);
    plan.row_chunks = static_cast<int>((longest_decode * a.group + kDecodeRows - 1) / kDecodeRows);
    if (int64_t{a.n_kv_heads} * plan.row_chunks > 65535)
      fail("paged_attention on CUDA: {} kv heads x {} row chunks exceed the CUDA grid", a.n_kv_heads, plan.row_chunks);
    // Enough blocks to fill the GPU about four times over (batch-1 decode at long context must use
    // every SM); never more splits than the block table has tiles of positions. Sequence count, heads
    // and table width fix it, so it is the same at every position of a captured step.
    const int64_t sms = std::max(1, context.info().multiprocessors);
    const int64_t blocks_per_split = decode_sequences * a.n_kv_heads * plan.row_chunks;
    const int64_t table_tiles =
        std::max<int64_t>(1, (kv.block_tables.size(1) * a.block_size + kDecodeKeys - 1) / kDecodeKeys);
    const int64_t splits = (4 * sms + blocks_per_split - 1) / blocks_per_split;
    plan.num_splits = static_cast<int>(std::clamp<int64_t>(splits, 1, std::min<int64_t>(kDecodeMaxSplits, table_tiles)));
    if (plan.num_splits > 1) {
      // Partials for every (sequence, token < max_tokens, q head, split); the GEMM's scratch is free
      // between GEMMs, and everything runs on this one stream.
      const int64_t floats = decode_scratch_floats(a, plan);
      const int64_t rows = floats / (a.head_dim + 2);
      auto* scratch = static_cast<float*>(context.gemm_scratch(static_cast<size_t>(floats) * sizeof(float)));
      plan.partial_out = scratch;
      plan.partial_max = scratch + rows * a.head_dim;
      plan.partial_sum = plan.partial_max + rows;
    }
  }

  launch_store(a, stream);  // a launch of its own: every store lands before any attention reads
  if (longest_decode > 0) launch_decode(a, plan, stream);
  if (longest_prefill > 0) launch_prefill(a, longest_prefill, stream);
}

}  // namespace strata::kernels::cuda
