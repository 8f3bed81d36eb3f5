#include "strata/cache/from_schedule.h"

#include "strata/core/error.h"

namespace strata::cache {

StateCacheConfig state_cache_config(const schedule::Schedule& schedule, const schedule::ModelDims& dims,
                                    int max_sequences, int speculative_tokens, std::string model_id,
                                    DType state_dtype) {
  StateCacheConfig config;
  const auto& m = dims.mamba;
  for (const schedule::LayerSpec& layer : schedule.layers) {
    if (layer.mtp_depth > 0 || !schedule::has_mamba2(layer)) continue;
    if (m.n_heads <= 0 || m.head_dim <= 0 || m.state_size <= 0 || m.n_groups <= 0 || m.conv_kernel < 2)
      fail("layer {} is a Mamba2 layer but the Mamba2 dimensions are incomplete (H {}, P {}, N {}, G {}, K {})",
           layer.index, m.n_heads, m.head_dim, m.state_size, m.n_groups, m.conv_kernel);
    config.layers.push_back(MambaStateShape{.conv_dim = m.conv_channels(), .conv_kernel = m.conv_kernel,
                                            .n_heads = m.n_heads, .head_dim = m.head_dim, .state_size = m.state_size,
                                            .conv_dtype = state_dtype, .state_dtype = state_dtype});
  }
  config.max_sequences = max_sequences;
  config.speculative_tokens = speculative_tokens;
  config.model_id = std::move(model_id);
  return config;
}

int attention_layer_count(const schedule::Schedule& schedule) {
  int n = 0;
  for (const schedule::LayerSpec& layer : schedule.layers)
    n += layer.mtp_depth == 0 && schedule::has_attention(layer);
  return n;
}

}  // namespace strata::cache
