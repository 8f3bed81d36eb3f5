// Model: a Hugging Face checkpoint (config.json + safetensors) bound to strata's layers, and
// Model::forward, which runs one packed batch — prefill chunks, decode tokens and verification tokens of
// different sequences in the same step — through the schedule, reading and writing the ModelCache.
#pragma once

#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "strata/model/attention_layer.h"
#include "strata/model/mamba2_mixer.h"
#include "strata/model/model_cache.h"
#include "strata/model/model_config.h"
#include "strata/model/moe_layer.h"
#include "strata/model/weight_source.h"

namespace strata::model {

// One sequence's share of a step: `length` tokens starting at row `begin` of the packed token array,
// continuing from the slot's cached state (`start` tokens already consumed; 0 = a fresh sequence).
struct SequenceStep {
  int32_t slot = 0;
  int64_t length = 0;
  bool all_logits = false;  // logits for every token of the step, else only for its last token
};

struct ForwardBatch {
  std::span<const int32_t> tokens;       // packed token ids of all sequences, in sequence order
  std::span<const SequenceStep> sequences;
};

class Model {
 public:
  // Loads config.json and the safetensors weights (memory-mapped); checks every tensor the forward needs
  // for presence, dtype and shape, and rejects unknown tensors, before any compute. Throws strata::Error.
  static std::unique_ptr<Model> load(const std::filesystem::path& model_dir);
  // The same from a config and tensors held elsewhere (e.g. a synthetic model); `identity_text` seeds
  // the model identity in place of config.json's text.
  static std::unique_ptr<Model> from_weights(ModelConfig config, std::unique_ptr<WeightSource> weights,
                                             const std::string& identity_text);

  const ModelConfig& config() const { return config_; }
  int64_t vocab_size() const { return config_.dims.vocab_size; }
  int64_t hidden_size() const { return config_.dims.hidden_size; }
  int64_t parameter_count() const { return parameter_count_; }
  // A fingerprint of the config and weights, carried in snapshots so state is never restored into
  // another model.
  const std::string& identity() const { return identity_; }

  ModelCache make_cache(const CacheOptions& options) const;

  // Rows of logits forward() will produce for this batch.
  static int64_t logits_rows(const ForwardBatch& batch);

  // Runs the step and advances each sequence's position. logits: f32 [logits_rows(batch), V]. Validates
  // the batch (token ids in range, slots allocated, KV capacity) and throws strata::Error before touching
  // any state if it is wrong.
  void forward(const ForwardBatch& batch, ModelCache& cache, Tensor logits, Workspace& workspace,
               ThreadPool& pool) const;

 private:
  struct Layer {
    int schedule_index = 0;
    Tensor norm;  // f32 [D]
    std::variant<Mamba2Mixer, AttentionLayer, MlpWeights, MoeWeights> body;
    int cache_index = -1;  // index among the Mamba layers or among the attention layers
  };

  Model() = default;
  void bind_weights(const std::string& identity_text);

  ModelConfig config_;
  std::unique_ptr<WeightSource> weights_;
  std::vector<Buffer> owned_;  // f32 copies of small parameters (norm weights)
  std::vector<Layer> layers_;
  Tensor embeddings_, final_norm_, lm_head_;
  MoeConfig moe_config_;
  int mamba_layers_ = 0, attention_layers_ = 0;
  int64_t parameter_count_ = 0;
  std::string identity_;
};

}  // namespace strata::model
