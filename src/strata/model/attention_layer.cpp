#include "strata/model/attention_layer.h"

#include "strata/core/error.h"
#include "strata/kernels/elementwise.h"
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
void expect_adapter(const LowRankAdapter& a, int64_t width, int64_t input, const std::string& name, const char* what) {
  if (!a.in.data && !a.out.data) return;
  if (!a.in.data || a.in.ndim != 2 || a.in.shape[1] != input || a.in.shape[0] <= 0)
    fail("{}.{} adapter: expected a [rank, {}] down matrix, got {}", name, what, input,
         a.in.data ? a.in.describe() : "nothing");
  expect_matrix(a.out, width, a.in.shape[0], name, what);
}
}  // namespace

AttentionLayer::AttentionLayer(const AttentionDims& dims, const AttentionWeights& w, const std::string& name)
    : dims_(dims), weights_(w) {
  if (dims.n_heads <= 0 || dims.n_kv_heads <= 0 || dims.head_dim <= 0 || dims.n_heads % dims.n_kv_heads != 0)
    fail("{}: {} query heads must be a positive multiple of {} key/value heads", name, dims.n_heads, dims.n_kv_heads);
  const int64_t q = dims.n_heads * dims.head_dim, kv = dims.n_kv_heads * dims.head_dim, in = dims.in_width();
  expect_matrix(w.q_proj, q, in, name, "q_proj.weight");
  expect_matrix(w.k_proj, kv, in, name, "k_proj.weight");
  expect_matrix(w.v_proj, kv, in, name, "v_proj.weight");
  expect_adapter(w.q_adapter, q, in, name, "q_proj");
  expect_adapter(w.k_adapter, kv, in, name, "k_proj");
  expect_adapter(w.v_adapter, kv, in, name, "v_proj");
  expect_matrix(w.o_proj, dims.hidden, q, name, "o_proj.weight");
  expect_vector(w.q_bias, q, name, "q_proj.bias");
  expect_vector(w.k_bias, kv, name, "k_proj.bias");
  expect_vector(w.v_bias, kv, name, "v_proj.bias");
  expect_vector(w.o_bias, dims.hidden, name, "o_proj.bias");
}

void AttentionLayer::forward(const Tensor& x, Tensor& out, bool accumulate, const kernels::VarlenBatch& batch,
                             kernels::Mirrored<int64_t> start_positions, kernels::Mirrored<int64_t> positions,
                             const kernels::PagedKv& kv, Workspace& workspace, const Exec& exec) const {
  const int64_t T = x.size(0);
  if (T == 0) return;
  const int64_t q_width = dims_.n_heads * dims_.head_dim, kv_width = dims_.n_kv_heads * dims_.head_dim;
  Tensor q = workspace.take(DType::f32, {T, q_width});
  Tensor k = workspace.take(DType::f32, {T, kv_width});
  Tensor v = workspace.take(DType::f32, {T, kv_width});
  auto project = [&](const Tensor& weight, const Tensor& bias, const LowRankAdapter& adapter, Tensor& y) {
    kernels::GemmParams p;
    if (bias.data) p.bias = &bias;
    kernels::gemm(x, weight, y, p, exec);
    if (adapter.in.data) {
      Tensor low_rank = workspace.take(DType::f32, {T, adapter.in.size(0)});
      kernels::gemm(x, adapter.in, low_rank, {}, exec);
      kernels::gemm(low_rank, adapter.out, y, {.accumulate = true}, exec);
    }
  };
  project(weights_.q_proj, weights_.q_bias, weights_.q_adapter, q);
  project(weights_.k_proj, weights_.k_bias, weights_.k_adapter, k);
  project(weights_.v_proj, weights_.v_bias, weights_.v_adapter, v);
  if (dims_.key_multiplier != 1.0f) kernels::scale(k, dims_.key_multiplier, exec);

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

void AttentionLayer::visit_tensors(const TensorVisitor& visit) {
  AttentionWeights& w = weights_;
  for (Tensor* t : {&w.q_proj, &w.k_proj, &w.v_proj, &w.o_proj, &w.q_bias, &w.k_bias, &w.v_bias, &w.o_bias,
                    &w.q_adapter.in, &w.q_adapter.out, &w.k_adapter.in, &w.k_adapter.out, &w.v_adapter.in,
                    &w.v_adapter.out})
    visit(*t);
}

size_t AttentionLayer::scratch_bytes(int64_t tokens) const {
  const int64_t q_width = dims_.n_heads * dims_.head_dim, kv_width = dims_.n_kv_heads * dims_.head_dim;
  size_t adapters = 0;
  for (const LowRankAdapter* a : {&weights_.q_adapter, &weights_.k_adapter, &weights_.v_adapter})
    if (a->in.data) adapters += Workspace::rounded(static_cast<size_t>(tokens * a->in.size(0)) * sizeof(float));
  return Workspace::rounded(static_cast<size_t>(tokens * q_width) * sizeof(float)) +
         2 * Workspace::rounded(static_cast<size_t>(tokens * kv_width) * sizeof(float)) + adapters;
}

}  // namespace strata::model
