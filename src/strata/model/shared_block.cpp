#include "strata/model/shared_block.h"

#include "strata/kernels/elementwise.h"
#include "strata/kernels/gemm.h"
#include "strata/kernels/norm.h"

namespace strata::model {

void SharedBlockUse::forward(const Tensor& hidden, const Tensor& embeddings, Tensor& out, StepContext& step) const {
  const int64_t T = hidden.size(0), D = hidden.size(1);
  Workspace& ws = step.workspace;
  const kernels::RmsNormParams norm{.eps = norm_eps};
  Tensor joined = ws.take(DType::f32, {T, 2 * D});
  kernels::copy_scaled(joined.columns(0, D), hidden, 1.0f, step.exec);
  kernels::copy_scaled(joined.columns(D, D), embeddings, 1.0f, step.exec);
  kernels::rms_norm(norm, joined, input_norm, joined, step.exec);

  Tensor attended = ws.take(DType::f32, {T, D});
  const kernels::PagedKv kv{.k_pool = step.cache.kv->k_pool(attention_layer),
                            .v_pool = step.cache.kv->v_pool(attention_layer),
                            .block_tables = step.cache.kv->block_tables()};
  attention.forward(joined, attended, false, step.varlen, step.start_positions, step.positions, kv, ws, step.exec);
  kernels::rms_norm(norm, attended, ffn_norm, attended, step.exec);
  Tensor transformed = ws.take(DType::f32, {T, D});
  mlp_forward(mlp, activation, attended, transformed, ws, step.exec);
  kernels::gemm(transformed, linear, out, {}, step.exec);
}

size_t SharedBlockUse::scratch_bytes(int64_t tokens, int64_t hidden_size) const {
  const size_t row = Workspace::rounded(static_cast<size_t>(tokens * hidden_size) * sizeof(float));
  return 2 * row + row + attention.scratch_bytes(tokens) + mlp_scratch_bytes(mlp, activation, tokens);
}

void SharedBlockUse::visit_tensors(const TensorVisitor& visit) {
  visit(input_norm);
  attention.visit_tensors(visit);
  visit(ffn_norm);
  model::visit_tensors(mlp, visit);
  visit(linear);
}

}  // namespace strata::model
