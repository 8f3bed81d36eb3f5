#include "strata/model/mamba2_mixer.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "strata/core/convert.h"
#include "strata/core/cuda_context.h"
#include "strata/core/error.h"
#include "strata/kernels/conv1d.h"
#include "strata/kernels/activations.h"
#include "strata/kernels/copy.h"
#include "strata/kernels/elementwise.h"
#include "strata/kernels/gemm.h"
#include "strata/kernels/in_proj_conv.h"
#include "strata/kernels/norm.h"
#include "strata/kernels/norm_gemm.h"
#include "strata/kernels/ssd.h"
#include "strata/kernels/state_update.h"

namespace strata::model {

namespace k = kernels;

namespace {

Tensor absent() { return Tensor{}; }

void expect_shape(const Tensor& t, std::initializer_list<int64_t> shape, const std::string& name, const char* what) {
  bool ok = t.data != nullptr && t.ndim == static_cast<int>(shape.size());
  size_t d = 0;
  for (int64_t s : shape) ok = ok && t.shape[d++] == s;
  if (!ok) {
    std::string expected = "[";
    for (int64_t s : shape) expected += (expected.size() > 1 ? ", " : "") + std::to_string(s);
    fail("{}.{}: expected shape {}], got {}", name, what, expected, t.data ? t.describe() : "nothing");
  }
}


// Rows [begin, end) of a token-row matrix.
Tensor rows_of(const Tensor& rows, int64_t begin, int64_t end) { return rows.slice(begin, end); }

}  // namespace

Mamba2Mixer::Mamba2Mixer(const Mamba2Dims& dims, const Mamba2Weights& w, const std::string& name)
    : dims_(dims), weights_(w) {
  const int64_t D = dims.hidden, H = dims.ssm.n_heads, E = dims.inner(), C = dims.conv_dim(), K = dims.ssm.conv_kernel;
  if (D <= 0 || H <= 0 || dims.ssm.head_dim <= 0 || dims.ssm.state_size <= 0 || dims.ssm.n_groups <= 0 || K < 2 || K > 8 ||
      dims.ssm.chunk_size <= 0)
    fail("{}: invalid Mamba2 dimensions (hidden {}, heads {}, head_dim {}, state {}, groups {}, conv {}, chunk {})",
         name, D, H, dims.ssm.head_dim, dims.ssm.state_size, dims.ssm.n_groups, K, dims.ssm.chunk_size);
  if (H % dims.ssm.n_groups != 0) fail("{}: {} heads are not divisible into {} groups", name, H, dims.ssm.n_groups);
  expect_shape(w.in_proj, {dims.in_proj_width(), D}, name, "in_proj.weight");
  if (w.in_proj_bias.data) expect_shape(w.in_proj_bias, {dims.in_proj_width()}, name, "in_proj.bias");
  if (w.conv_weight.ndim == 3)
    expect_shape(w.conv_weight, {C, 1, K}, name, "conv1d.weight");
  else
    expect_shape(w.conv_weight, {C, K}, name, "conv1d.weight");
  if (w.conv_bias.data) expect_shape(w.conv_bias, {C}, name, "conv1d.bias");
  expect_shape(w.dt_bias, {H}, name, "dt_bias");
  expect_shape(w.A_log, {H}, name, "A_log");
  expect_shape(w.D, {H}, name, "D");
  if (dims.gated_norm)
    expect_shape(w.norm_weight, {E}, name, "norm.weight");
  else if (w.norm_weight.data)
    fail("{}.norm.weight: given, but the config runs this mixer without its gated RMSNorm (mamba_rms_norm false)", name);
  expect_shape(w.out_proj, {D, E}, name, "out_proj.weight");
  if (w.out_proj_bias.data) expect_shape(w.out_proj_bias, {D}, name, "out_proj.bias");

  bool scaled_projection = false;
  for (float m : dims.projection_multipliers) {
    if (!std::isfinite(m)) fail("{}: in_proj multiplier {} is not finite", name, m);
    scaled_projection = scaled_projection || m != 1.0f;
  }
  const int64_t W = dims.in_proj_width();
  params_ = Buffer(static_cast<size_t>(C * K + C + 3 * H + E + (scaled_projection ? W : 0)) * sizeof(float));
  float* p = static_cast<float*>(params_.data());
  auto take = [&p](std::initializer_list<int64_t> shape) {
    Tensor t = Tensor::contiguous(p, DType::f32, shape);
    p += t.numel();
    return t;
  };
  conv_weight_ = take({C, K});
  convert_to_f32(w.conv_weight, conv_weight_.ptr<float>(), "conv1d.weight");
  conv_bias_ = take({C});
  if (w.conv_bias.data) convert_to_f32(w.conv_bias, conv_bias_.ptr<float>(), "conv1d.bias");
  A_ = take({H});
  convert_to_f32(w.A_log, A_.ptr<float>(), "A_log");
  for (int64_t h = 0; h < H; ++h) A_.ptr<float>()[h] = -std::exp(A_.ptr<float>()[h]);
  D_ = take({H});
  convert_to_f32(w.D, D_.ptr<float>(), "D");
  dt_bias_ = take({H});
  convert_to_f32(w.dt_bias, dt_bias_.ptr<float>(), "dt_bias");
  norm_weight_ = take({E});
  if (dims.gated_norm) convert_to_f32(w.norm_weight, norm_weight_.ptr<float>(), "norm.weight");
  if (!w.conv_bias.data) conv_bias_ = absent();
  if (!dims.gated_norm) norm_weight_ = absent();
  if (scaled_projection) {
    // Segments of [z | x | B | C | dt] (x, B, C together are xBC).
    projection_scale_ = take({W});
    const int64_t GN = dims.ssm.n_groups * dims.ssm.state_size;
    const int64_t ends[5] = {E, 2 * E, 2 * E + GN, 2 * E + 2 * GN, W};
    float* s = projection_scale_.ptr<float>();
    for (int64_t c = 0, segment = 0; c < W; ++c) {
      while (c >= ends[segment]) ++segment;
      s[c] = dims.projection_multipliers[static_cast<size_t>(segment)];
    }
  }
}

kernels::SsdParams Mamba2Mixer::ssd_params(int64_t tokens, const Exec* exec) const {
  const Mamba2Dims& d = dims_;
  const DType projection = weights_.in_proj.dtype;
  const bool fast = exec != nullptr && exec->device() == Device::cuda &&
                    (projection == DType::bf16 || projection == DType::f16) && tokens > exec->cuda().precise_max_rows();
  return {.n_heads = d.ssm.n_heads, .head_dim = d.ssm.head_dim, .state_size = d.ssm.state_size,
          .n_groups = d.ssm.n_groups, .chunk_size = d.ssm.chunk_size, .dt_min = d.dt_min, .dt_max = d.dt_max,
          .dt_softplus = true, .bf16_products = fast};
}

void Mamba2Mixer::forward(const Tensor& x, Tensor& out, bool accumulate, const Mamba2Batch& batch,
                          const Mamba2LayerState& state, Workspace& workspace, const Exec& exec,
                          const InputNorm* input_norm) const {
  const Mamba2Dims& d = dims_;
  const int64_t T = x.size(0), E = d.inner(), C = d.conv_dim(), GN = d.ssm.n_groups * d.ssm.state_size;
  if (T == 0) return;

  Tensor zxbcdt = workspace.take(DType::f32, {T, d.in_proj_width()});
  const Tensor z = zxbcdt.columns(0, E);
  const Tensor xbc = zxbcdt.columns(E, C);
  const Tensor dt = zxbcdt.columns(E + C, d.ssm.n_heads);
  Tensor conv_out = workspace.take(DType::f32, {T, C});
  Tensor y = workspace.take(DType::f32, {T, E});

  const k::CausalConv1dParams conv_params{.conv_dim = C, .kernel_width = d.ssm.conv_kernel, .silu = true};
  const k::SelectiveStateUpdateParams update_params{.n_heads = d.ssm.n_heads, .head_dim = d.ssm.head_dim,
                                                      .state_size = d.ssm.state_size, .n_groups = d.ssm.n_groups,
                                                      .dt_softplus = true, .dt_min = d.dt_min, .dt_max = d.dt_max};
  const k::SelectiveStateUpdateWeights update_weights{.A = A_, .D = D_, .dt_bias = dt_bias_};

  // Splits the batch into the leading decode sequences and the prefill remainder, each with its own
  // rebased cu_seqlens so the kernels see rows from 0.
  const int64_t num_sequences = batch.varlen.num_sequences();
  const int64_t decode_sequences = batch.verify ? num_sequences : batch.decode_sequences;
  const int64_t decode_tokens = batch.varlen.begin(decode_sequences);

  // cu_seqlens rebased to the part's first row, in workspace memory (forward allocates nothing).
  auto part_of = [&](int64_t first, int64_t count, int64_t token_begin) {
    auto* cu = static_cast<int64_t*>(workspace.take_host_bytes(sizeof(int64_t) * static_cast<size_t>(count + 1)));
    for (int64_t i = 0; i <= count; ++i) cu[i] = batch.varlen.begin(first + i) - token_begin;
    // On the GPU the part points into the step's device arrays and rebases by row_offset instead.
    const kernels::VarlenDevice& d = batch.varlen.device;
    const kernels::VarlenDevice part_device =
        d.cu_seqlens == nullptr ? kernels::VarlenDevice{}
                                : kernels::VarlenDevice{.cu_seqlens = d.cu_seqlens + first,
                                                        .slots = d.slots + first,
                                                        .has_initial_state = d.has_initial_state + first,
                                                        .row_offset = d.row_offset + token_begin};
    return kernels::VarlenBatch{
        .cu_seqlens = std::span<const int64_t>(cu, static_cast<size_t>(count + 1)),
        .slots = batch.varlen.slots.subspan(static_cast<size_t>(first), static_cast<size_t>(count)),
        .has_initial_state =
            batch.varlen.has_initial_state.subspan(static_cast<size_t>(first), static_cast<size_t>(count)),
        .device = part_device};
  };

  // Verification keeps the state after every token. The kernels write them per batch sequence in the
  // pool's dtype; the cache keeps them per slot in f32 (exact: pool values are representable in f32).
  bool keep_any = batch.verify;
  int64_t max_length = 0;
  for (int64_t i = 0; i < decode_sequences; ++i) {
    max_length = std::max(max_length, batch.varlen.length(i));
    keep_any = keep_any || (!batch.keep_states.empty() && batch.keep_states[static_cast<size_t>(i)]);
  }
  // A step of plain one-token decodes (the steady state) runs its front — [norm →] in_proj → conv — as
  // one call the GPU fuses (kernels/in_proj_conv.h); column multipliers (Falcon-H1) sit between the two,
  // so those models take the separate path.
  const bool plain_decode = decode_sequences == num_sequences && decode_tokens == num_sequences &&
                            max_length == 1 && !keep_any && !projection_scale_.data;
  const kernels::VarlenBatch decode_part = part_of(0, decode_sequences, 0);

  // in_proj: [T, z | xBC | dt].
  kernels::GemmParams in_params;
  if (weights_.in_proj_bias.data) in_params.bias = &weights_.in_proj_bias;
  const kernels::InProjNorm front_norm{.weight = input_norm ? input_norm->weight : nullptr,
                                       .eps = input_norm ? input_norm->eps : 0.0f,
                                       .normed = input_norm ? input_norm->normed : Tensor{}};
  if (plain_decode) {
    k::in_proj_conv_decode(x, input_norm ? &front_norm : nullptr, weights_.in_proj, zxbcdt, in_params, conv_params, E,
                           conv_weight_, conv_bias_, decode_part, state.conv_pool, conv_out, exec);
  } else {
    if (input_norm != nullptr)
      kernels::rms_norm_gemm({.eps = input_norm->eps}, x, *input_norm->weight, input_norm->normed, weights_.in_proj,
                             zxbcdt, in_params, exec);
    else
      kernels::gemm(x, weights_.in_proj, zxbcdt, in_params, exec);
    if (projection_scale_.data) kernels::scale_columns(zxbcdt, projection_scale_, exec);
  }

  if (decode_sequences > 0) {
    const kernels::VarlenBatch& part = decode_part;
    const Tensor conv_intermediate =
        keep_any ? workspace.take(state.conv_pool.dtype, {decode_sequences, max_length, d.ssm.conv_kernel - 1, C})
                     : absent();
    const Tensor ssm_intermediate =
        keep_any
            ? workspace.take(state.ssm_pool.dtype, {decode_sequences, max_length, d.ssm.n_heads, d.ssm.head_dim, d.ssm.state_size})
            : absent();
    const Tensor part_conv_out = rows_of(conv_out, 0, decode_tokens);
    if (!plain_decode)  // else the front already convolved
      k::causal_conv1d_decode(conv_params, rows_of(xbc, 0, decode_tokens), conv_weight_, conv_bias_, part,
                              state.conv_pool, conv_intermediate, part_conv_out, exec);
    const k::SelectiveStateUpdateInputs inputs{.x = part_conv_out.columns(0, E),
                                                 .dt = rows_of(dt, 0, decode_tokens),
                                                 .B = part_conv_out.columns(E, GN),
                                                 .C = part_conv_out.columns(E + GN, GN)};
    k::selective_state_update(update_params, inputs, update_weights, part, state.ssm_pool, ssm_intermediate,
                                rows_of(y, 0, decode_tokens), exec);
    for (int64_t i = 0; keep_any && i < decode_sequences; ++i) {
      if (!batch.verify && !batch.keep_states[static_cast<size_t>(i)]) continue;
      const int64_t slot = batch.varlen.slots[static_cast<size_t>(i)];
      for (int64_t j = 0; j < batch.varlen.length(i); ++j) {
        k::copy_to_f32(conv_intermediate[i][j], state.speculative_conv[slot][j], exec);
        k::copy_to_f32(ssm_intermediate[i][j], state.speculative_ssm[slot][j], exec);
      }
    }
  }

  if (decode_sequences < num_sequences) {
    const kernels::VarlenBatch part = part_of(decode_sequences, num_sequences - decode_sequences, decode_tokens);
    const Tensor part_conv_out = rows_of(conv_out, decode_tokens, T);
    k::causal_conv1d_prefill(conv_params, rows_of(xbc, decode_tokens, T), conv_weight_, conv_bias_, part,
                               state.conv_pool, part_conv_out, exec);
    const k::SsdParams ssd_params = this->ssd_params(T - decode_tokens, &exec);
    const k::SsdInputs inputs{.x = part_conv_out.columns(0, E),
                                .dt = rows_of(dt, decode_tokens, T),
                                .B = part_conv_out.columns(E, GN),
                                .C = part_conv_out.columns(E + GN, GN),
                                .A = A_,
                                .D = D_,
                                .dt_bias = dt_bias_};
    const size_t scratch_bytes = k::ssd_workspace_bytes(ssd_params, T - decode_tokens, part.num_sequences(), exec.threads(),
                                                        exec.device());
    void* scratch = workspace.take_bytes(scratch_bytes);
    k::ssd_scan(ssd_params, inputs, part, state.ssm_pool, rows_of(y, decode_tokens, T), {}, scratch,
                  scratch_bytes, exec);
  }

  // Gated RMSNorm (or the gate alone), then out_proj (accumulating into the residual when asked).
  const k::GatedRmsNormParams norm_params{.n_groups = d.ssm.n_groups, .eps = d.norm_eps,
                                          .norm_before_gate = d.norm_before_gate};
  kernels::GemmParams out_params;
  out_params.accumulate = accumulate;
  if (weights_.out_proj_bias.data) out_params.bias = &weights_.out_proj_bias;
  if (d.gated_norm) {
    // y is its own scratch: normed in place where the norm is not fused into out_proj's reads.
    k::gated_rms_norm_gemm(norm_params, y, z, norm_weight_, y, weights_.out_proj, out, out_params, exec);
  } else {
    k::ffn_activation(k::FfnActivation::silu_gated, y, z, exec);  // y ← silu(z)·y
    kernels::gemm(y, weights_.out_proj, out, out_params, exec);
  }
}

void Mamba2Mixer::visit_tensors(const TensorVisitor& visit) {
  for (Tensor* t : {&weights_.in_proj, &weights_.in_proj_bias, &weights_.out_proj, &weights_.out_proj_bias, &conv_weight_,
                    &conv_bias_, &A_, &D_, &dt_bias_, &norm_weight_, &projection_scale_})
    visit(*t);
}

size_t Mamba2Mixer::scratch_bytes(int64_t tokens, int64_t sequences, int64_t kept_sequences, int64_t kept_length,
                                  int threads, Device device) const {
  const Mamba2Dims& d = dims_;
  const auto f32 = [](int64_t elements) { return Workspace::rounded(static_cast<size_t>(elements) * sizeof(float)); };
  const size_t state_bytes = dtype_size(DType::f32);  // intermediates take the pool dtype, at most f32
  const int64_t K1 = d.ssm.conv_kernel - 1;
  const k::SsdParams ssd_params = this->ssd_params(tokens, nullptr);  // the workspace is the same either way
  size_t bytes = f32(tokens * d.in_proj_width()) + f32(tokens * d.conv_dim()) + f32(tokens * d.inner());
  bytes += 2 * Workspace::rounded(sizeof(int64_t) * static_cast<size_t>(sequences + 1));
  bytes += Workspace::rounded(static_cast<size_t>(kept_sequences * kept_length * K1 * d.conv_dim()) * state_bytes);
  bytes += Workspace::rounded(static_cast<size_t>(kept_sequences * kept_length * d.ssm.n_heads * d.ssm.head_dim *
                                                  d.ssm.state_size) * state_bytes);
  bytes += Workspace::rounded(k::ssd_workspace_bytes(ssd_params, tokens, sequences, threads, device));
  return bytes;
}

}  // namespace strata::model
