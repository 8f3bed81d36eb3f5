#include "strata/kernels/attention.h"

#include "strata/kernels/cpu/attention.h"
#include "strata/kernels/dispatch.h"

namespace strata::kernels {

void paged_attention(const PagedAttentionParams& params, const VarlenBatch& batch,
                     Mirrored<int64_t> start_positions, const PagedAttentionInputs& inputs,
                     const PagedKv& kv, const Tensor& out, const Exec& exec) {
  detail::device_for("paged_attention", exec,
                     {&inputs.q, &inputs.k, &inputs.v, &kv.k_pool, &kv.v_pool, &kv.block_tables, &out});
  cpu::paged_attention(params, batch, start_positions.host, inputs, kv, out, exec.pool());
}

}  // namespace strata::kernels
