#include "strata/model/mlp_layer.h"

#include <cmath>
#include <string>

#include "strata/core/error.h"
#include "strata/kernels/elementwise.h"
#include "strata/kernels/gemm.h"

namespace strata::model {

namespace {

bool is_float(DType t) { return t == DType::f32 || t == DType::bf16 || t == DType::f16; }

// rows < 0: any number of rows (the intermediate width is whatever up_proj says).
void check_matrix(const Tensor& t, int64_t rows, int64_t cols, std::string_view layer, const char* name) {
  if (!present(t) || t.ndim != 2 || !is_float(t.dtype) ||
      (rows >= 0 && t.size(0) != rows) || t.size(1) != cols)
    fail("{}: {} must be an f32/bf16/f16 matrix [{}, {}], got {}", layer, name,
         rows >= 0 ? std::to_string(rows) : std::string("intermediate"), cols,
         present(t) ? t.describe() : std::string("none"));
}

void check_bias(const Tensor& t, int64_t n, std::string_view layer, const char* name) {
  if (!present(t)) return;
  if (t.ndim != 1 || !is_float(t.dtype) || t.size(0) != n)
    fail("{}: {} must be an f32/bf16/f16 vector [{}], got {}", layer, name, n, t.describe());
}

}  // namespace

const char* mlp_activation_name(MlpActivation activation) { return kernels::ffn_activation_name(activation); }

void check_mlp(const MlpWeights& w, MlpActivation activation, int64_t hidden, std::string_view layer) {
  check_matrix(w.up, -1, hidden, layer, "up_proj.weight");
  const int64_t intermediate = w.up.size(0);
  check_matrix(w.down, hidden, intermediate, layer, "down_proj.weight");
  const bool gated = kernels::is_gated(activation);
  if (gated) {
    if (!present(w.gate))
      fail("{}: activation {} needs gate_proj.weight [{}, {}], none given", layer, mlp_activation_name(activation), intermediate,
           hidden);
    check_matrix(w.gate, intermediate, hidden, layer, "gate_proj.weight");
  } else if (present(w.gate) || present(w.gate_bias)) {
    fail("{}: gate_proj given but activation {} is not gated", layer, mlp_activation_name(activation));
  }
  check_bias(w.up_bias, intermediate, layer, "up_proj.bias");
  check_bias(w.down_bias, hidden, layer, "down_proj.bias");
  check_bias(w.gate_bias, intermediate, layer, "gate_proj.bias");
  if (present(w.adapter_in) || present(w.adapter_gate) || present(w.adapter_up)) {
    if (!gated) fail("{}: an adapter is given but activation {} is not gated", layer, mlp_activation_name(activation));
    check_matrix(w.adapter_in, -1, hidden, layer, "adapter (down) weight");
    const int64_t rank = w.adapter_in.size(0);
    check_matrix(w.adapter_gate, intermediate, rank, layer, "adapter (up, gate half) weight");
    check_matrix(w.adapter_up, intermediate, rank, layer, "adapter (up, up half) weight");
  }
  if (!std::isfinite(w.gate_multiplier)) fail("{}: gate multiplier is {}", layer, w.gate_multiplier);
}

void mlp_forward(const MlpWeights& w, MlpActivation activation, const Tensor& x, Tensor& out,
                 Workspace& workspace, const Exec& exec, bool accumulate) {
  if (x.ndim != 2 || x.dtype != DType::f32)
    fail("mlp: input must be f32 [tokens, hidden], got {}", x.describe());
  const int64_t tokens = x.size(0), hidden = x.size(1);
  check_mlp(w, activation, hidden, "mlp");
  const int64_t intermediate = w.up.size(0);
  if (out.ndim != 2 || out.dtype != DType::f32 || out.size(0) != tokens || out.size(1) != hidden)
    fail("mlp: output must be f32 [{}, {}] like the input, got {}", tokens, hidden, out.describe());
  if (tokens == 0) return;

  Tensor h = workspace.take(DType::f32, {tokens, intermediate});
  const bool adapted = present(w.adapter_in);
  Tensor low_rank;
  if (adapted) {
    low_rank = workspace.take(DType::f32, {tokens, w.adapter_in.size(0)});
    kernels::gemm(x, w.adapter_in, low_rank, {}, exec);
  }
  const kernels::GemmParams adapter_params{.accumulate = true};
  kernels::GemmParams up_params;
  up_params.bias = present(w.up_bias) ? &w.up_bias : nullptr;
  kernels::check_gemm(x, w.up, h, up_params);
  kernels::gemm(x, w.up, h, up_params, exec);
  if (adapted) kernels::gemm(low_rank, w.adapter_up, h, adapter_params, exec);
  Tensor g;
  if (kernels::is_gated(activation)) {
    g = workspace.take(DType::f32, {tokens, intermediate});
    kernels::GemmParams gate_params;
    gate_params.bias = present(w.gate_bias) ? &w.gate_bias : nullptr;
    kernels::check_gemm(x, w.gate, g, gate_params);
    kernels::gemm(x, w.gate, g, gate_params, exec);
    if (adapted) kernels::gemm(low_rank, w.adapter_gate, g, adapter_params, exec);
    if (w.gate_multiplier != 1.0f) kernels::scale(g, w.gate_multiplier, exec);
  }
  kernels::ffn_activation(activation, h, g, exec);
  kernels::GemmParams down_params;
  down_params.bias = present(w.down_bias) ? &w.down_bias : nullptr;
  down_params.accumulate = accumulate;
  kernels::check_gemm(h, w.down, out, down_params);
  kernels::gemm(h, w.down, out, down_params, exec);
}

size_t mlp_scratch_bytes(const MlpWeights& w, MlpActivation activation, int64_t tokens) {
  const size_t h = Workspace::rounded(static_cast<size_t>(tokens * w.up.size(0)) * sizeof(float));
  const size_t adapter =
      present(w.adapter_in) ? Workspace::rounded(static_cast<size_t>(tokens * w.adapter_in.size(0)) * sizeof(float)) : 0;
  return (kernels::is_gated(activation) ? 2 * h : h) + adapter;
}

void visit_tensors(MlpWeights& w, const TensorVisitor& visit) {
  for (Tensor* t : {&w.up, &w.down, &w.gate, &w.up_bias, &w.down_bias, &w.gate_bias, &w.adapter_in, &w.adapter_gate,
                    &w.adapter_up})
    visit(*t);
}

}  // namespace strata::model
