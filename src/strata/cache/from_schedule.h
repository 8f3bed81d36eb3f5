// Cache sizing from a model's Schedule: one Mamba2 state shape per Mamba2 layer of the main trunk (MTP
// layers hold no state here), read from the schedule and ModelDims without building any layer.
#pragma once

#include <string>

#include "strata/cache/state_cache.h"
#include "strata/schedule/schedule.h"

namespace strata::cache {

// Throws strata::Error (naming the layer) when a Mamba2 layer's dimensions are missing.
StateCacheConfig state_cache_config(const schedule::Schedule& schedule, const schedule::ModelDims& dims,
                                    int max_sequences, int speculative_tokens, std::string model_id,
                                    DType state_dtype = DType::f32);

// Attention layers of the main trunk (the layers that own KV blocks).
int attention_layer_count(const schedule::Schedule& schedule);

}  // namespace strata::cache
