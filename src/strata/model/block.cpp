#include "strata/model/block.h"

#include "strata/kernels/elementwise.h"
#include "strata/kernels/norm.h"

namespace strata::model {

void Block::forward(Tensor& hidden, StepContext& step) const {
  const int64_t T = hidden.size(0), D = hidden.size(1);
  Workspace& ws = step.workspace;
  Tensor normed = ws.take(DType::f32, {T, D});
  // Parts add straight into the residual; with a residual multiplier the first writes a scratch row
  // block, later ones add to it, and the sum joins the residual scaled (residual + part · multiplier, as
  // transformers computes it).
  const bool scaled = residual_multiplier != 1.0f;
  Tensor part = scaled ? ws.take(DType::f32, {T, D}) : hidden;
  auto end_part = [&] {
    if (scaled) kernels::add_scaled(hidden, part, residual_multiplier, step.exec);
  };
  const kernels::RmsNormParams norm{.eps = norm_eps};
  if (mixer_norm.data) {
    kernels::rms_norm(norm, hidden, mixer_norm, normed, step.exec);
    // In parallel blocks both mixers read the same normed input and add into the residual.
    if (attention) {
      const kernels::PagedKv kv{.k_pool = step.cache.kv->k_pool(attention_layer),
                                .v_pool = step.cache.kv->v_pool(attention_layer),
                                .block_tables = step.cache.kv->block_tables()};
      attention->forward(normed, part, !scaled, step.varlen, step.start_positions, step.positions, kv, ws, step.exec);
    }
    if (mamba) {
      const cache::MambaStateCache& states = *step.cache.mamba;
      const Mamba2LayerState state{.conv_pool = states.conv_pool(mamba_layer),
                                   .ssm_pool = states.ssm_pool(mamba_layer),
                                   .speculative_conv = states.speculative_conv(mamba_layer),
                                   .speculative_ssm = states.speculative_ssm(mamba_layer)};
      const Mamba2Batch batch{.varlen = step.varlen, .decode_sequences = step.recurrent_sequences,
                              .verify = false, .keep_states = step.keep_states};
      mamba->forward(normed, part, !scaled || attention.has_value(), batch, state, ws, step.exec);
    }
    end_part();
  }
  if (ffn_norm.data) {
    kernels::rms_norm(norm, hidden, ffn_norm, normed, step.exec);
    if (mlp) mlp_forward(*mlp, mlp_activation, normed, part, ws, step.exec, !scaled);
    if (moe) moe_forward(*moe, *moe_config, normed, &step.token_ids, part, ws, step.exec, !scaled);
    end_part();
  }
}

size_t Block::scratch_bytes(const StepShape& s, int64_t hidden_size, int threads) const {
  size_t bytes = (residual_multiplier != 1.0f ? 2 : 1) *
                 Workspace::rounded(static_cast<size_t>(s.tokens * hidden_size) * sizeof(float));
  if (attention) bytes += attention->scratch_bytes(s.tokens);
  if (mamba) bytes += mamba->scratch_bytes(s.tokens, s.sequences, s.kept_sequences, s.kept_length, threads);
  if (mlp) bytes += mlp_scratch_bytes(*mlp, mlp_activation, s.tokens);
  if (moe) bytes += moe_scratch_bytes(*moe, *moe_config, s.tokens);
  return bytes;
}

}  // namespace strata::model
