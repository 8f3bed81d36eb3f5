#include "strata/kernels/attention.h"

#include "strata/kernels/cpu/attention.h"
#include "strata/kernels/dispatch.h"

#if STRATA_HAVE_CUDA
#include "strata/kernels/cuda/attention.h"
#endif

namespace strata::kernels {

void paged_attention(const PagedAttentionParams& params, const VarlenBatch& batch,
                     Mirrored<int64_t> start_positions, const PagedAttentionInputs& inputs,
                     const PagedKv& kv, const Tensor& out, const Exec& exec) {
  if (detail::device_of("paged_attention", exec,
                        {&inputs.q, &inputs.k, &inputs.v, &kv.k_pool, &kv.v_pool, &kv.block_tables, &out}) ==
      Device::cuda) {
#if STRATA_HAVE_CUDA
    return cuda::paged_attention(params, batch, start_positions, inputs, kv, out, exec);
#endif
  }
  cpu::paged_attention(params, batch, start_positions.host, inputs, kv, out, exec.pool());
}

}  // namespace strata::kernels
