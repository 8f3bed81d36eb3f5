// Model: a checkpoint bound to strata's blocks — one Block per LayerSpec of the schedule, built from the
// family's tensor-name table (families/) — and Model::forward, which runs one packed batch (prefill
// chunks, decode tokens and (1+S)-token verifications of different sequences in the same step) through
// the blocks, reading and writing the SequenceCache. Kernels are reached only through kernels/<op>.h.
#pragma once

#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "strata/cache/sequence_cache.h"
#include "strata/core/exec.h"
#include "strata/core/workspace.h"
#include "strata/model/block.h"
#include "strata/model/decode_graphs.h"
#include "strata/model/device_weights.h"
#include "strata/model/model_config.h"
#include "strata/model/step.h"
#include "strata/model/weight_source.h"

namespace strata::model {

using cache::CacheOptions;
using cache::SequenceCache;

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
  std::span<const Block> blocks() const { return blocks_; }
  // A fingerprint of the config and weights, carried in snapshots so state is never restored into
  // another model.
  const std::string& identity() const { return identity_; }

  // What a cache with these options allocates (the one sizing function, cache::plan_cache), and the cache.
  // The cache lives on the model's device whatever options.device says.
  cache::CachePlan cache_plan(const CacheOptions& options) const;
  SequenceCache make_cache(const CacheOptions& options) const;

  // Workspace bytes a forward of at most this shape takes (reserve them before the first step so the
  // steady state allocates nothing). Excludes the caller's logits buffer.
  size_t workspace_bytes(const StepShape& shape, int threads) const;

  // Rows of logits forward() will produce for this batch.
  static int64_t logits_rows(const ForwardBatch& batch);

  // Runs the step and advances each sequence's position. logits: f32 [logits_rows(batch), V]. Validates
  // the batch (token ids in range, slots allocated and distinct, KV capacity, keep_states within the
  // cache's speculative depth, token-by-token sequences leading) and throws strata::Error before
  // touching any state if it is wrong.
  // With `graphs` on a GPU, a pure decode step (every sequence one token, none keeping states, no MoE
  // layer) runs as a replayed CUDA graph (decode_graphs.h).
  void forward(const ForwardBatch& batch, SequenceCache& cache, Tensor logits, Workspace& workspace,
               const Exec& exec, DecodeGraphs* graphs = nullptr) const;

  // Moves every weight the forward reads to the current GPU (CudaContext made current), once: in the
  // checkpoint dtype (fast) or widened to f32 (exact). Afterwards forward needs a GPU Exec, a GPU
  // workspace and cache (CacheOptions::device), and GPU logits. Throws when the GPU cannot hold it.
  void to_device(Precision precision);
  Device device() const { return device_; }
  Precision precision() const { return precision_; }
  size_t device_weight_bytes() const { return device_bytes_; }

 private:
  Model() = default;
  void bind_weights(const std::string& identity_text);

  ModelConfig config_;
  std::unique_ptr<WeightSource> weights_;
  std::vector<Buffer> owned_;  // f32 copies of small parameters (norm weights, router biases)
  std::vector<Block> blocks_;
  Tensor embeddings_, final_norm_, lm_head_;
  MoeConfig moe_config_;
  int64_t parameter_count_ = 0;
  std::string identity_;
  Device device_ = Device::cpu;
  Precision precision_ = Precision::exact;
  std::vector<Buffer> device_buffers_;  // the GPU copies of the weights (to_device)
  size_t device_bytes_ = 0;
};

}  // namespace strata::model
