#include "strata/model/block.h"

#include "strata/kernels/elementwise.h"
#include "strata/kernels/norm.h"

namespace strata::model {

namespace {

bool any_scaled(const Block& b) {
  return b.attention_output_multiplier != 1.0f || b.mamba_output_multiplier != 1.0f || b.ffn_output_multiplier != 1.0f;
}

}  // namespace

void Block::forward(Tensor& hidden, const Tensor& embeddings, StepContext& step) const {
  const int64_t T = hidden.size(0), D = hidden.size(1);
  Workspace& ws = step.workspace;
  Tensor normed = ws.take(DType::f32, {T, D});
  // A part with multiplier 1 adds straight into the residual; another writes a scratch row block that
  // joins the residual scaled (residual + part · multiplier, as transformers computes it).
  Tensor part = any_scaled(*this) ? ws.take(DType::f32, {T, D}) : Tensor{};
  auto add_part = [&](float multiplier, auto&& run) {
    if (multiplier == 1.0f) {
      run(hidden, true);
    } else {
      run(part, false);
      kernels::add_scaled(hidden, part, multiplier, step.exec);
    }
  };
  // A mixer's input: the normed residual, or a scaled copy of it.
  Tensor scaled_input;
  auto input_for = [&](float multiplier) -> const Tensor& {
    if (multiplier == 1.0f) return normed;
    if (!scaled_input.data) scaled_input = ws.take(DType::f32, {T, D});
    kernels::copy_scaled(scaled_input, normed, multiplier, step.exec);
    return scaled_input;
  };
  const kernels::RmsNormParams norm{.eps = norm_eps};
  // A plain Mamba block (no shared block, no parallel attention, input multiplier 1) leaves its norm to
  // the mixer, whose in_proj can fuse it (kernels/norm_gemm.h); every other block norms here.
  const bool mixer_takes_norm = mixer_norm.data && mamba && !attention && !shared && mamba_input_multiplier == 1.0f;
  if (mixer_norm.data) {
    if (mixer_takes_norm) {
      // normed stays scratch for the mixer; nothing else reads it before the FFN norm refills it.
    } else if (shared) {
      // Zamba2: the mixer reads norm(hidden + shared block output); the residual stays hidden.
      Tensor injected = ws.take(DType::f32, {T, D});
      shared->forward(hidden, embeddings, injected, step);
      kernels::add_scaled(injected, hidden, 1.0f, step.exec);
      kernels::rms_norm(norm, injected, mixer_norm, normed, step.exec);
    } else {
      kernels::rms_norm(norm, hidden, mixer_norm, normed, step.exec);
    }
    // In parallel blocks both mixers read the same normed input and add into the residual.
    if (attention) {
      const kernels::PagedKv kv{.k_pool = step.cache.kv->k_pool(attention_layer),
                                .v_pool = step.cache.kv->v_pool(attention_layer),
                                .block_tables = step.cache.kv->block_tables()};
      const Tensor& x = input_for(attention_input_multiplier);
      add_part(attention_output_multiplier, [&](Tensor& out, bool accumulate) {
        attention->forward(x, out, accumulate, step.varlen, step.start_positions, step.positions, kv, ws, step.exec);
      });
    }
    if (mamba) {
      const cache::MambaStateCache& states = *step.cache.mamba;
      const Mamba2LayerState state{.conv_pool = states.conv_pool(mamba_layer),
                                   .ssm_pool = states.ssm_pool(mamba_layer),
                                   .speculative_conv = states.speculative_conv(mamba_layer),
                                   .speculative_ssm = states.speculative_ssm(mamba_layer)};
      const Mamba2Batch batch{.varlen = step.varlen, .decode_sequences = step.recurrent_sequences,
                              .verify = false, .keep_states = step.keep_states};
      const Mamba2Mixer::InputNorm input_norm{.weight = &mixer_norm, .eps = norm_eps, .normed = normed};
      const Tensor& x = mixer_takes_norm ? hidden : input_for(mamba_input_multiplier);
      add_part(mamba_output_multiplier, [&](Tensor& out, bool accumulate) {
        mamba->forward(x, out, accumulate, batch, state, ws, step.exec, mixer_takes_norm ? &input_norm : nullptr);
      });
    }
  }
  if (ffn_norm.data) {
    kernels::rms_norm(norm, hidden, ffn_norm, normed, step.exec);
    add_part(ffn_output_multiplier, [&](Tensor& out, bool accumulate) {
      if (mlp) mlp_forward(*mlp, mlp_activation, normed, out, ws, step.exec, accumulate);
      if (moe) moe_forward(*moe, *moe_config, normed, &step.token_ids, out, ws, step.exec, accumulate || mlp.has_value());
    });
  }
}

size_t Block::scratch_bytes(const StepShape& s, int64_t hidden_size, int threads, Device device) const {
  const size_t row = Workspace::rounded(static_cast<size_t>(s.tokens * hidden_size) * sizeof(float));
  size_t bytes = row;                                                  // normed
  if (any_scaled(*this)) bytes += row;                                 // part
  if (attention_input_multiplier != 1.0f || mamba_input_multiplier != 1.0f) bytes += row;  // scaled input
  if (shared) bytes += row + shared->scratch_bytes(s.tokens, hidden_size);
  if (attention) bytes += attention->scratch_bytes(s.tokens);
  if (mamba) bytes += mamba->scratch_bytes(s.tokens, s.sequences, s.kept_sequences, s.kept_length, threads, device);
  if (mlp) bytes += mlp_scratch_bytes(*mlp, mlp_activation, s.tokens);
  if (moe) bytes += moe_scratch_bytes(*moe, *moe_config, s.tokens);
  return bytes;
}

void Block::visit_tensors(const TensorVisitor& visit) {
  visit(mixer_norm);
  visit(ffn_norm);
  if (mamba) mamba->visit_tensors(visit);
  if (attention) attention->visit_tensors(visit);
  if (mlp) model::visit_tensors(*mlp, visit);
  if (moe) model::visit_tensors(*moe, visit);
  if (shared) shared->visit_tensors(visit);
}

}  // namespace strata::model
