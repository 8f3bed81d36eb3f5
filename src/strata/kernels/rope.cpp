#include "strata/kernels/rope.h"

#include "strata/core/error.h"
#include "strata/kernels/cpu/rope.h"
#include "strata/kernels/dispatch.h"
#if STRATA_HAVE_CUDA
#include "strata/kernels/cuda/rope.h"
#endif

namespace strata::kernels {

void apply_rope(const RopeParams& params, const Tensor& x, Mirrored<int64_t> positions, const Exec& exec) {
  if (detail::device_of("apply_rope", exec, {&x}) == Device::cuda) {
#if STRATA_HAVE_CUDA
    check_rope(params, x, positions.host);  // shapes and host positions only
    if (x.size(0) > 0 && positions.device == nullptr)
      fail("apply_rope: a CUDA call needs the positions on the device (positions.device)");
    return cuda::apply_rope(params, x, positions, exec);
#endif
  }
  cpu::apply_rope(params, x, positions.host, exec.pool());
}

void rope_positions(const VarlenBatch& batch, std::span<const int64_t> start_positions,
                    std::span<int64_t> positions) {
  if (batch.cu_seqlens.size() != batch.slots.size() + 1)
    fail("rope positions: cu_seqlens has {} entries for {} sequences", batch.cu_seqlens.size(), batch.slots.size());
  if (start_positions.size() != batch.slots.size())
    fail("rope positions: {} start positions for {} sequences", start_positions.size(), batch.slots.size());
  if (static_cast<int64_t>(positions.size()) != batch.num_tokens())
    fail("rope positions: output holds {} entries for {} tokens", positions.size(), batch.num_tokens());
  for (int64_t i = 0; i < batch.num_sequences(); ++i)
    for (int64_t j = 0; j < batch.length(i); ++j)
      positions[static_cast<size_t>(batch.begin(i) + j)] = start_positions[static_cast<size_t>(i)] + j;
}

}  // namespace strata::kernels
