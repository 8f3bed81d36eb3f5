#include "strata/model/attention_layer.h"

#include "strata/core/error.h"
#include "strata/kernels/gemm.h"

namespace strata::model {


namespace {
void expect_matrix(const Tensor& t, int64_t rows, int64_t cols, const std::string& name, const char* what) {
  if (!t.data || t.ndim != 2 || t.shape[0] != rows || t.shape[1] != cols)
    fail("{}.{}: expected shape [{}, {}], got {}", name, what, rows, cols, t.data ? t.describe() : "nothing");
}
void expect_vector(const Tensor& t, int64_t n, const std::string& name, const char* what) {
  if (t.data && (t.ndim != 1 || t.shape[0] != n))
    fail("{}.{}: expected shape [{}], got {}", name, what, n, t.describe());
}
}  // namespace

AttentionLayer::AttentionLayer(const AttentionDims& dims, const AttentionWeights& w, const std::string& name)
    : dims_(dims), weights_(w) {
  if (dims.n_heads <= 0 || dims.n_kv_heads <= 0 || dims.head_dim <= 0 || dims.n_heads % dims.n_kv_heads != 0)
    fail("{}: {} query heads must be a positive multiple of {} key/value heads", name, dims.n_heads, dims.n_kv_heads);
  const int64_t q = dims.n_heads * dims.head_dim, kv = dims.n_kv_heads * dims.head_dim;
  expect_matrix(w.q_proj, q, dims.hidden, name, "q_proj.weight");
  expect_matrix(w.k_proj, kv, dims.hidden, name, "k_proj.weight");
  expect_matrix(w.v_proj, kv, dims.hidden, name, "v_proj.weight");
  expect_matrix(w.o_proj, dims.hidden, q, name, "o_proj.weight");
  expect_vector(w.q_bias, q, name, "q_proj.bias");
  expect_vector(w.k_bias, kv, name, "k_proj.bias");
  expect_vector(w.v_bias, kv, name, "v_proj.bias");
  expect_vector(w.o_bias, dims.hidden, name, "o_proj.bias");
}

void AttentionLayer::forward(const Tensor& x, Tensor& out, bool accumulate, const kernels::VarlenBatch& batch,
                             std::span<const int64_t> start_positions, std::span<const int64_t> positions,
                             const kernels::PagedKv& kv, Workspace& workspace, const Exec& exec) const {
  const int64_t T = x.size(0);
  if (T == 0) return;
  const int64_t q_width = dims_.n_heads * dims_.head_dim, kv_width = dims_.n_kv_heads * dims_.head_dim;
  Tensor q = workspace.take(DType::f32, {T, q_width});
  Tensor k = workspace.take(DType::f32, {T, kv_width});
  Tensor v = workspace.take(DType::f32, {T, kv_width});
  auto project = [&](const Tensor& weight, const Tensor& bias, Tensor& y) {
    kernels::GemmParams p;
    if (bias.data) p.bias = &bias;
    kernels::gemm(x, weight, y, p, exec);
  };
  project(weights_.q_proj, weights_.q_bias, q);
  project(weights_.k_proj, weights_.k_bias, k);
  project(weights_.v_proj, weights_.v_bias, v);

  if (dims_.rope_theta > 0.0f) {
    kernels::RopeParams rope{.n_heads = dims_.n_heads, .head_dim = dims_.head_dim,
                       .rotary_dim = dims_.rotary_dim > 0 ? dims_.rotary_dim : dims_.head_dim,
                       .theta = dims_.rope_theta, .style = dims_.rope_style};
    kernels::apply_rope(rope, q, positions, exec);
    rope.n_heads = dims_.n_kv_heads;
    kernels::apply_rope(rope, k, positions, exec);
  }

  const kernels::PagedAttentionParams params{.n_heads = dims_.n_heads, .n_kv_heads = dims_.n_kv_heads,
                                         .head_dim = dims_.head_dim, .sliding_window = dims_.sliding_window,
                                         .scale = dims_.softmax_scale};
  const kernels::PagedAttentionInputs inputs{.q = q, .k = k, .v = v};
  kernels::paged_attention(params, batch, start_positions, inputs, kv, q, exec);  // out aliases q

  kernels::GemmParams o;
  o.accumulate = accumulate;
  if (weights_.o_bias.data) o.bias = &weights_.o_bias;
  kernels::gemm(q, weights_.o_proj, out, o, exec);
}

size_t AttentionLayer::scratch_bytes(int64_t tokens) const {
  const int64_t q_width = dims_.n_heads * dims_.head_dim, kv_width = dims_.n_kv_heads * dims_.head_dim;
  return Workspace::rounded(static_cast<size_t>(tokens * q_width) * sizeof(float)) +
         2 * Workspace::rounded(static_cast<size_t>(tokens * kv_width) * sizeof(float));
}

}  // namespace strata::model
