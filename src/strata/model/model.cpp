#include "strata/model/model.h"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include <fmt/format.h>

#include "strata/cache/from_schedule.h"
#include "strata/cache/hash64.h"
#include "strata/core/convert.h"
#include "strata/core/error.h"
#include "strata/kernels/cpu/gemm.h"
#include "strata/kernels/cpu/rms_norm.h"

namespace strata::model {

namespace cpu = kernels::cpu;
using schedule::FfnKind;
using schedule::MixerKind;

namespace {

// Hands out checkpoint tensors by name, checking dtype, and remembers which were used so that tensors
// nobody asked for can be reported.
class WeightBinder {
 public:
  WeightBinder(const WeightSource& weights, std::string prefix) : weights_(weights), prefix_(std::move(prefix)) {}

  Tensor required(const std::string& name) {
    const std::string full = prefix_ + name;
    if (!weights_.has(full)) fail("{}: missing tensor '{}'", weights_.where(), full);
    return take(full);
  }
  Tensor optional(const std::string& name, bool expected) {
    const std::string full = prefix_ + name;
    if (!expected) return Tensor{};
    return required(name);
  }
  Tensor required_unprefixed(const std::string& name) {
    if (!weights_.has(name)) fail("{}: missing tensor '{}'", weights_.where(), name);
    return take(name);
  }
  bool has(const std::string& name) const { return weights_.has(prefix_ + name); }

  // Every tensor of the checkpoint must have been used, except the MTP heads transformers ignores too.
  void reject_unused() const {
    std::vector<std::string> unused;
    for (const std::string& name : weights_.names())
      if (!used_.count(name) && !name.starts_with("mtp.")) unused.push_back(name);
    if (unused.empty()) return;
    std::string list;
    for (size_t i = 0; i < unused.size() && i < 5; ++i) list += (i ? ", " : "") + ("'" + unused[i] + "'");
    if (unused.size() > 5) list += fmt::format(" and {} more", unused.size() - 5);
    fail("{}: {} unexpected tensor(s) not used by this model type: {}", weights_.where(), unused.size(), list);
  }
  int64_t used_elements() const {
    int64_t n = 0;
    for (const std::string& name : used_) n += weights_.get(name).numel();
    return n;
  }

 private:
  Tensor take(const std::string& full) {
    Tensor t = weights_.get(full);
    if (t.dtype != DType::f32 && t.dtype != DType::bf16 && t.dtype != DType::f16)
      fail("{}: tensor '{}' has dtype {}, expected f32, bf16 or f16", weights_.where(), full,
           dtype_name(t.dtype));
    used_.insert(full);
    return t;
  }

  const WeightSource& weights_;
  std::string prefix_;
  std::set<std::string> used_;
};

void expect_vector(const Tensor& t, int64_t n, const std::string& what) {
  if (t.ndim != 1 || t.shape[0] != n) fail("{}: expected shape [{}], got {}", what, n, t.describe());
}

std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

std::unique_ptr<Model> Model::load(const std::filesystem::path& model_dir) {
  ModelConfig config = load_model_config(model_dir);
  return from_weights(std::move(config), std::make_unique<SafetensorsWeights>(model_dir),
                      read_text(model_dir / "config.json"));
}

std::unique_ptr<Model> Model::from_weights(ModelConfig config, std::unique_ptr<WeightSource> weights,
                                           const std::string& identity_text) {
  std::unique_ptr<Model> model(new Model());
  model->config_ = std::move(config);
  model->weights_ = std::move(weights);
  model->bind_weights(identity_text);
  return model;
}

void Model::bind_weights(const std::string& identity_text) {
  const WeightSource& weights = *weights_;
  const ModelConfig& c = config_;
  const int64_t D = c.dims.hidden_size, V = c.dims.vocab_size;
  const std::string prefix = weights.has("backbone.embeddings.weight") || weights.has("backbone.embedding.weight")
                                 ? "backbone."
                                 : "model.";
  WeightBinder bind(weights, prefix);

  auto matrix = [&](const Tensor& t, int64_t rows, int64_t cols, const std::string& what) {
    if (t.ndim != 2 || t.shape[0] != rows || t.shape[1] != cols)
      fail("{}: tensor '{}' must have shape [{}, {}], got {}", weights.where(), what, rows, cols, t.describe());
  };
  auto f32_vector = [&](const Tensor& t, int64_t n, const std::string& what) {
    expect_vector(t, n, weights.where() + ": tensor '" + what + "'");
    Buffer& b = owned_.emplace_back(static_cast<size_t>(n) * sizeof(float));
    convert_to_f32(t, static_cast<float*>(b.data()), what.c_str());
    return b.view(DType::f32, {n});
  };

  embeddings_ = bind.has("embeddings.weight") ? bind.required("embeddings.weight") : bind.required("embedding.weight");
  matrix(embeddings_, V, D, prefix + "embeddings.weight");
  final_norm_ = f32_vector(bind.required("norm_f.weight"), D, prefix + "norm_f.weight");
  if (c.tie_word_embeddings) {
    lm_head_ = embeddings_;
  } else {
    lm_head_ = bind.required_unprefixed("lm_head.weight");
    matrix(lm_head_, V, D, "lm_head.weight");
  }

  moe_config_.routing = kernels::RoutingParams{.top_k = c.moe.top_k,
                                               .n_group = c.moe.n_group,
                                               .topk_group = c.moe.topk_group,
                                               .norm_topk_prob = c.moe.norm_topk_prob,
                                               .routed_scaling_factor = c.moe.routed_scaling_factor,
                                               .scoring = kernels::RouterScoring::sigmoid,
                                               .mode = kernels::RoutingMode::learned};
  moe_config_.expert_activation = c.mlp_activation;
  moe_config_.shared_activation = c.mlp_activation;

  const auto& dims = c.dims;
  for (const schedule::LayerSpec& spec : c.schedule.layers) {
    if (spec.mtp_depth > 0) continue;  // MTP heads are for speculative drafting, not the trunk
    const std::string base = fmt::format("layers.{}.", spec.index);
    const std::string name = prefix + base + "mixer";
    Layer layer{.schedule_index = spec.index,
                .norm = f32_vector(bind.required(base + "norm.weight"), D, prefix + base + "norm.weight"),
                .body = MlpWeights{}};
    auto w = [&](const std::string& n) { return bind.required(base + "mixer." + n); };
    auto w_opt = [&](const std::string& n, bool expected) { return bind.optional(base + "mixer." + n, expected); };

    if (spec.mixer == MixerKind::mamba2) {
      const Mamba2Dims md{.hidden = D, .ssm = dims.mamba, .dt_min = c.dt_min, .dt_max = c.dt_max,
                          .norm_eps = c.mamba_norm_eps};
      const Mamba2Weights mw{.in_proj = w("in_proj.weight"), .in_proj_bias = w_opt("in_proj.bias", c.mamba_proj_bias),
                             .conv_weight = w("conv1d.weight"), .conv_bias = w_opt("conv1d.bias", c.mamba_conv_bias),
                             .dt_bias = w("dt_bias"), .A_log = w("A_log"), .D = w("D"), .norm_weight = w("norm.weight"),
                             .out_proj = w("out_proj.weight"), .out_proj_bias = w_opt("out_proj.bias", c.mamba_proj_bias)};
      layer.body.emplace<Mamba2Mixer>(md, mw, name);
      layer.cache_index = mamba_layers_++;
    } else if (spec.mixer == MixerKind::attention) {
      if (spec.attention.kind != schedule::AttentionKind::full && spec.attention.kind != schedule::AttentionKind::sliding_window)
        fail("{}: attention kind '{}' is not implemented yet", name, schedule::attention_kind_name(spec.attention.kind));
      const AttentionDims ad{.hidden = D, .q_heads = dims.attention.n_heads, .kv_heads = dims.attention.n_kv_heads,
                             .head_dim = dims.attention.head_dim, .sliding_window = spec.attention.window,
                             .rope_theta = c.rope_theta};
      const AttentionWeights aw{.q_proj = w("q_proj.weight"), .k_proj = w("k_proj.weight"), .v_proj = w("v_proj.weight"),
                                .o_proj = w("o_proj.weight"), .q_bias = w_opt("q_proj.bias", c.attention_bias),
                                .k_bias = w_opt("k_proj.bias", c.attention_bias), .v_bias = w_opt("v_proj.bias", c.attention_bias),
                                .o_bias = w_opt("o_proj.bias", c.attention_bias)};
      layer.body.emplace<AttentionLayer>(ad, aw, name);
      layer.cache_index = attention_layers_++;
    } else if (spec.ffn == FfnKind::mlp) {
      MlpWeights mw{.up = w("up_proj.weight"), .down = w("down_proj.weight"), .gate = {},
                    .up_bias = w_opt("up_proj.bias", c.mlp_bias), .down_bias = w_opt("down_proj.bias", c.mlp_bias), .gate_bias = {}};
      if (c.mlp_activation == MlpActivation::silu_gated) mw.gate = w("gate_proj.weight");
      validate_mlp(mw, c.mlp_activation, D, name);
      layer.body = mw;
    } else if (spec.ffn == FfnKind::moe) {
      MoeWeights mw;
      mw.router = w("gate.weight");
      mw.correction_bias = bind.has(base + "mixer.gate.e_score_correction_bias") ? w("gate.e_score_correction_bias") : Tensor{};
      if (mw.correction_bias.data && mw.correction_bias.dtype != DType::f32) {
        Buffer& b = owned_.emplace_back(static_cast<size_t>(mw.correction_bias.numel()) * sizeof(float));
        convert_to_f32(mw.correction_bias, static_cast<float*>(b.data()), "gate.e_score_correction_bias");
        mw.correction_bias = b.view(DType::f32, {mw.correction_bias.numel()});
      }
      for (int64_t e = 0; e < c.moe.n_routed_experts; ++e) {
        const std::string expert = fmt::format("experts.{}.", e);
        MlpWeights& ew = mw.experts.emplace_back();
        ew.up = w(expert + "up_proj.weight");
        ew.down = w(expert + "down_proj.weight");
      }
      if (c.moe.shared_intermediate_size > 0)
      {
        mw.shared.up = w("shared_experts.up_proj.weight");
        mw.shared.down = w("shared_experts.down_proj.weight");
      }
      if (c.moe.latent_size > 0) {
        mw.latent_in = w("fc1_latent_proj.weight");
        mw.latent_out = w("fc2_latent_proj.weight");
      }
      validate_moe(mw, moe_config_, D, name);
      layer.body = std::move(mw);
    } else {
      fail("{}: layer {} has neither a mixer nor a feed-forward part", name, spec.index);
    }
    layers_.push_back(std::move(layer));
  }
  bind.reject_unused();
  parameter_count_ = bind.used_elements();

  // Identity: config text plus every tensor's name, dtype and shape, plus sampled weight bytes. Cheap to
  // compute (no full read of the weights) and different for any other checkpoint in practice.
  std::string fingerprint = identity_text;
  uint64_t sample_hash = 0;
  for (const std::string& name : weights.names()) {
    const Tensor t = weights.get(name);
    fingerprint += fmt::format("|{}:{}", name, t.describe());
    const size_t n = std::min<size_t>(t.nbytes(), 256);
    sample_hash = cache::hash64(t.data, n, sample_hash);
    if (t.nbytes() > 256) sample_hash = cache::hash64(static_cast<const char*>(t.data) + t.nbytes() - 256, 256, sample_hash);
  }
  identity_ = fmt::format("{}:{:016x}:{:016x}", c.model_type, cache::hash64(fingerprint.data(), fingerprint.size(), 0),
                          sample_hash);
}

ModelCache Model::make_cache(const CacheOptions& options) const {
  ModelCache cache;
  cache.options = options;
  if (mamba_layers_ > 0)
    cache.mamba = std::make_unique<cache::MambaStateCache>(cache::state_cache_config(
        config_.schedule, config_.dims, options.max_sequences, options.speculative_tokens, identity_,
        options.state_dtype));
  if (attention_layers_ > 0) {
    cache::KvCacheConfig kc;
    kc.num_layers = attention_layers_;
    kc.kv_heads = config_.dims.attention.n_kv_heads;
    kc.head_dim = config_.dims.attention.head_dim;
    kc.block_size = options.kv_block_size;
    kc.max_slots = options.max_sequences;
    kc.max_sequence_length = options.max_context;
    kc.num_blocks = options.kv_blocks > 0
                        ? options.kv_blocks
                        : options.max_sequences * ((options.max_context + options.kv_block_size - 1) / options.kv_block_size);
    kc.dtype = options.kv_dtype;
    cache.kv = std::make_unique<cache::PagedKvCache>(kc);
  }
  return cache;
}

int64_t Model::logits_rows(const ForwardBatch& batch) {
  int64_t rows = 0;
  for (const SequenceStep& s : batch.sequences) rows += s.all_logits ? s.length : (s.length > 0 ? 1 : 0);
  return rows;
}

void Model::forward(const ForwardBatch& batch, ModelCache& cache, Tensor logits, Workspace& workspace,
                    ThreadPool& pool) const {
  const int64_t D = hidden_size(), V = vocab_size();
  const size_t num_sequences = batch.sequences.size();

  // Validate everything before any state changes.
  int64_t total = 0;
  std::vector<int64_t> cu_seqlens{0}, starts;
  std::vector<int32_t> slots;
  std::vector<uint8_t> has_initial;
  std::set<int32_t> seen;
  for (const SequenceStep& s : batch.sequences) {
    if (s.length <= 0) fail("forward: every sequence in a step needs at least one token (slot {} has {})", s.slot, s.length);
    if (!seen.insert(s.slot).second) fail("forward: slot {} appears twice in one step", s.slot);
    if (cache.mamba && !cache.mamba->is_allocated(s.slot)) fail("forward: slot {} is not allocated", s.slot);
    const int64_t start = cache.position(s.slot);
    total += s.length;
    cu_seqlens.push_back(total);
    starts.push_back(start);
    slots.push_back(s.slot);
    has_initial.push_back(start > 0 ? 1 : 0);
  }
  if (total != static_cast<int64_t>(batch.tokens.size()))
    fail("forward: {} tokens given for sequences totalling {}", batch.tokens.size(), total);
  for (size_t t = 0; t < batch.tokens.size(); ++t)
    if (batch.tokens[t] < 0 || batch.tokens[t] >= V)
      fail("input id {} at position {} is outside the vocabulary [0, {})", batch.tokens[t], t, V);
  const int64_t rows = logits_rows(batch);
  if (logits.dtype != DType::f32 || logits.ndim != 2 || logits.shape[0] != rows || logits.shape[1] != V)
    fail("forward: logits must be f32 [{}, {}], got {}", rows, V, logits.describe());
  if (cache.kv) {
    for (size_t i = 0; i < num_sequences; ++i)
      if (starts[i] + batch.sequences[i].length > cache.kv->max_sequence_length())
        fail("forward: slot {} would hold {} tokens, more than the {} this cache was sized for", slots[i],
             starts[i] + batch.sequences[i].length, cache.kv->max_sequence_length());
    for (size_t i = 0; i < num_sequences; ++i) {
      if (!cache.kv->reserve(slots[i], starts[i] + batch.sequences[i].length)) {
        for (size_t j = 0; j < i; ++j) cache.kv->truncate(slots[j], starts[j]);
        fail("forward: the KV cache has no room for {} more tokens of slot {} ({} free blocks)",
             batch.sequences[i].length, slots[i], cache.kv->free_block_count());
      }
    }
  }
  if (total == 0) return;

  const kernels::VarlenBatch varlen{.cu_seqlens = cu_seqlens, .slots = slots, .has_initial_state = has_initial};
  int64_t decode_sequences = 0;
  while (decode_sequences < static_cast<int64_t>(num_sequences) &&
         batch.sequences[static_cast<size_t>(decode_sequences)].length == 1 && starts[static_cast<size_t>(decode_sequences)] > 0)
    ++decode_sequences;
  const Mamba2Batch mamba_batch{.varlen = varlen, .decode_sequences = decode_sequences, .verify = false};

  // Embeddings → f32 residual stream.
  Tensor hidden = workspace.take(DType::f32, {total, D});
  const size_t row_bytes = static_cast<size_t>(D) * dtype_size(embeddings_.dtype);
  for (int64_t t = 0; t < total; ++t) {
    const Tensor row = Tensor::contiguous(static_cast<char*>(embeddings_.data) + static_cast<size_t>(batch.tokens[static_cast<size_t>(t)]) * row_bytes,
                                          embeddings_.dtype, {D});
    convert_to_f32(row, hidden.ptr<float>() + t * D, "embeddings");
  }
  Tensor normed = workspace.take(DType::f32, {total, D});
  Tensor token_ids = workspace.take(DType::i32, {total});
  std::memcpy(token_ids.data, batch.tokens.data(), static_cast<size_t>(total) * sizeof(int32_t));

  for (const Layer& layer : layers_) {
    cpu::rms_norm(cpu::RmsNormParams{.eps = config_.norm_eps}, hidden, layer.norm, normed, pool);
    if (const auto* mixer = std::get_if<Mamba2Mixer>(&layer.body)) {
      const Mamba2LayerState state{.conv_pool = cache.mamba->conv_pool(layer.cache_index),
                                   .ssm_pool = cache.mamba->ssm_pool(layer.cache_index),
                                   .speculative_conv = {}, .speculative_ssm = {}};
      mixer->forward(normed, hidden, true, mamba_batch, state, workspace, pool);
    } else if (const auto* attention = std::get_if<AttentionLayer>(&layer.body)) {
      const cpu::PagedKv kv{.k_pool = cache.kv->k_pool(layer.cache_index), .v_pool = cache.kv->v_pool(layer.cache_index),
                            .block_tables = cache.kv->block_tables()};
      attention->forward(normed, hidden, true, varlen, starts, kv, workspace, pool);
    } else if (const auto* mlp = std::get_if<MlpWeights>(&layer.body)) {
      mlp_forward(*mlp, config_.mlp_activation, normed, hidden, workspace, pool, true);
    } else if (const auto* moe = std::get_if<MoeWeights>(&layer.body)) {
      moe_forward(*moe, moe_config_, normed, &token_ids, hidden, workspace, pool, true);
    }
  }

  // Final norm and LM head over the rows that want logits.
  Tensor selected = workspace.take(DType::f32, {rows, D});
  int64_t r = 0;
  for (size_t i = 0; i < num_sequences; ++i) {
    const SequenceStep& s = batch.sequences[i];
    const int64_t first = s.all_logits ? cu_seqlens[i] : cu_seqlens[i + 1] - 1;
    const int64_t count = s.all_logits ? s.length : 1;
    std::memcpy(selected.ptr<float>() + r * D, hidden.ptr<float>() + first * D, static_cast<size_t>(count * D) * sizeof(float));
    r += count;
  }
  cpu::rms_norm(cpu::RmsNormParams{.eps = config_.norm_eps}, selected, final_norm_, selected, pool);
  kernels::gemm(selected, lm_head_, logits, kernels::GemmParams{}, pool);

  if (cache.mamba)
    for (size_t i = 0; i < num_sequences; ++i) cache.mamba->advance(slots[i], batch.sequences[i].length);
}

}  // namespace strata::model
