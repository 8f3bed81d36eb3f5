#include "strata/kernels/cpu/varlen_check.h"

#include <algorithm>

#include "strata/core/error.h"

namespace strata::kernels::cpu {

void check_varlen_batch(std::string_view kernel, const VarlenBatch& batch, int64_t num_tokens,
                        int64_t num_slots, bool allow_padding_slots) {
  const size_t n = batch.slots.size();
  if (batch.cu_seqlens.size() != n + 1)
    fail("{}: cu_seqlens has {} entries, expected num_sequences + 1 = {}", kernel,
         batch.cu_seqlens.size(), n + 1);
  if (batch.has_initial_state.size() != n)
    fail("{}: has_initial_state has {} entries, expected one per sequence ({})", kernel,
         batch.has_initial_state.size(), n);
  if (batch.cu_seqlens[0] != 0) fail("{}: cu_seqlens[0] is {}, expected 0", kernel, batch.cu_seqlens[0]);
  for (size_t i = 0; i < n; ++i) {
    if (batch.cu_seqlens[i + 1] < batch.cu_seqlens[i])
      fail("{}: cu_seqlens decreases at sequence {} ({} -> {})", kernel, i, batch.cu_seqlens[i],
           batch.cu_seqlens[i + 1]);
    const int32_t slot = batch.slots[i];
    if (slot >= num_slots || (slot < 0 && !allow_padding_slots))
      fail("{}: sequence {} has slot {}, expected 0 <= slot < {}{}", kernel, i, slot, num_slots,
           allow_padding_slots ? " (or negative for padding)" : "");
  }
  if (batch.cu_seqlens[n] != num_tokens)
    fail("{}: cu_seqlens ends at {} but the activations have {} token rows", kernel,
         batch.cu_seqlens[n], num_tokens);
}

int64_t max_sequence_length(const VarlenBatch& batch) {
  int64_t longest = 0;
  for (int64_t i = 0; i < batch.num_sequences(); ++i) longest = std::max(longest, batch.length(i));
  return longest;
}

}  // namespace strata::kernels::cpu
