// Synthetic models: the real architectures of named checkpoints (mamba2-130m, nemotronh-8b, ...) with
// random weights built in memory, so anyone can benchmark strata without downloading a checkpoint.
// Weights are bf16 with the scales of a trained model (1/sqrt(fan-in)), so activations stay finite.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "strata/core/thread_pool.h"
#include "strata/model/model.h"

namespace strata::model {

// The names synthetic_model() accepts, with a one-line description each.
std::vector<std::pair<std::string, std::string>> synthetic_model_names();

// Builds the named model (throws strata::Error listing the known names for an unknown one).
std::unique_ptr<Model> synthetic_model(const std::string& name, ThreadPool& pool, uint64_t seed = 1);

}  // namespace strata::model
