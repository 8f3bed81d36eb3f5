#include "strata/model/model.h"

#include "strata/io/gguf.h"
#include "strata/model/gguf_model.h"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include <fmt/format.h>

#include "strata/cache/hash64.h"
#include "strata/core/convert.h"
#include "strata/core/cuda_context.h"
#include "strata/core/cuda_runtime.h"
#include "strata/core/error.h"
#include "strata/kernels/elementwise.h"
#include "strata/kernels/embedding.h"
#include "strata/kernels/gemm.h"
#include "strata/kernels/norm.h"
#include "strata/model/device_weights.h"
#include "strata/model/families/family.h"

namespace strata::model {

using schedule::FfnKind;
using schedule::MixerKind;

namespace {

// Hands out checkpoint tensors by name, checking dtype, and remembers which were used so that tensors
// nobody asked for can be reported.
class WeightBinder {
 public:
  WeightBinder(const WeightSource& weights, const TensorNames& names) : weights_(weights), names_(names) {}

  Tensor required(const std::string& full) {
    if (!weights_.has(full)) fail("{}: missing tensor '{}'", weights_.where(), full);
    return take(full);
  }
  Tensor optional(const std::string& full, bool expected) { return expected ? required(full) : Tensor{}; }
  bool has(const std::string& full) const { return weights_.has(full); }

  // A tied tensor stored under any of `candidates` (the first present is used); the others, when
  // present, must be byte-identical copies and count once.
  Tensor tied(const std::vector<std::string>& candidates) {
    const std::string* chosen = nullptr;
    for (const std::string& name : candidates)
      if (weights_.has(name)) {
        chosen = &name;
        break;
      }
    if (!chosen) fail("{}: missing tensor '{}' (shared; looked in {} places)", weights_.where(), candidates.front(), candidates.size());
    const Tensor t = take(*chosen);
    for (const std::string& name : candidates) {
      if (&name == chosen || !weights_.has(name) || used_.count(name)) continue;
      const Tensor copy = weights_.get(name);
      if (copy.dtype != t.dtype || copy.describe() != t.describe() || std::memcmp(copy.data, t.data, t.nbytes()) != 0)
        fail("{}: tensor '{}' should be a tied copy of '{}' but differs", weights_.where(), name, *chosen);
      tied_.insert(name);
    }
    return t;
  }

  // Every tensor of the checkpoint must have been used, except those the family says strata skips.
  void reject_unused() const {
    std::vector<std::string> unused;
    for (const std::string& name : weights_.names()) {
      bool ignored = false;
      for (const std::string& prefix : names_.ignored_prefixes) ignored = ignored || name.starts_with(prefix);
      if (!used_.count(name) && !tied_.count(name) && !ignored) unused.push_back(name);
    }
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
  const TensorNames& names_;
  std::set<std::string> used_;
  std::set<std::string> tied_;  // identical copies of used tensors (not counted as parameters)
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
  if (io::is_gguf_file(model_dir)) return load_gguf_model(model_dir);
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
  if (!c.family) fail("model config has no family (build it with model_config_from_json)");
  const TensorNames& names = c.family->names;
  const int64_t D = c.dims.hidden_size, V = c.dims.vocab_size;
  WeightBinder bind(weights, names);

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
  auto f32_norm = [&](const std::string& name) { return f32_vector(bind.required(name), D, name); };
  // An MLP under `p` with the family's names: separate up/gate/down, or a fused gate|up matrix.
  auto bind_mlp = [&](const std::string& p, const MlpNames& n, MlpActivation activation, bool biases) {
    MlpWeights mw;
    const bool gated = kernels::is_gated(activation);
    if (!n.gate_up.empty()) {
      const Tensor gate_up = bind.required(p + n.gate_up);
      if (!gated || gate_up.ndim != 2 || gate_up.size(0) % 2 != 0)
        fail("{}: fused '{}' must be a gated [2·intermediate, {}] matrix, got {}", p + n.gate_up, n.gate_up, D,
             gate_up.describe());
      const int64_t inter = gate_up.size(0) / 2;
      mw.gate = gate_up.slice(0, inter);
      mw.up = gate_up.slice(inter, 2 * inter);
    } else {
      mw.up = bind.required(p + n.up);
      if (gated) mw.gate = bind.required(p + n.gate);
      mw.up_bias = bind.optional(p + n.up_bias, biases);
      if (gated) mw.gate_bias = bind.optional(p + n.gate_bias, biases);
    }
    mw.down = bind.required(p + n.down);
    mw.down_bias = bind.optional(p + n.down_bias, biases && n.gate_up.empty());
    return mw;
  };

  std::string embedding_name = names.embeddings.front();
  for (const std::string& n : names.embeddings)
    if (bind.has(n)) {
      embedding_name = n;
      break;
    }
  embeddings_ = bind.required(embedding_name);
  matrix(embeddings_, V, D, embedding_name);
  final_norm_ = f32_norm(names.final_norm);
  if (c.tie_word_embeddings) {
    lm_head_ = embeddings_;
  } else {
    lm_head_ = bind.required(names.lm_head);
    matrix(lm_head_, V, D, names.lm_head);
  }

  moe_config_.routing = kernels::RoutingParams{.top_k = c.moe.top_k,
                                               .n_group = c.moe.n_group,
                                               .topk_group = c.moe.topk_group,
                                               .norm_topk_prob = c.moe.norm_topk_prob,
                                               .routed_scaling_factor = c.moe.routed_scaling_factor,
                                               .scoring = c.router_scoring,
                                               .mode = kernels::RoutingMode::learned};
  moe_config_.expert_activation = c.mlp_activation;
  moe_config_.shared_activation = c.mlp_activation;

  const auto& dims = c.dims;
  const int64_t head_dim = dims.attention.head_dim;
  const int64_t rotary = static_cast<int64_t>(static_cast<double>(head_dim) * c.rope.partial_rotary_factor) / 2 * 2;
  const AttentionDims attention_dims{.hidden = D, .n_heads = dims.attention.n_heads,
                                     .n_kv_heads = dims.attention.n_kv_heads, .head_dim = head_dim,
                                     .sliding_window = 0, .rope_theta = c.rope.theta, .rotary_dim = rotary,
                                     .rope_style = c.rope.style, .softmax_scale = c.attention_multiplier,
                                     .key_multiplier = c.mup.key};
  // Zamba2: the hybrid layers of each shared block, in order (the block is stored under the first).
  const SharedBlockNames& sn = names.shared_names;
  std::vector<std::vector<std::string>> block_homes(static_cast<size_t>(std::max<int64_t>(c.shared_blocks.count, 0)));
  int hybrid_uses = 0;
  for (const schedule::LayerSpec& spec : c.schedule.layers) {
    if (spec.shared_block < 0 || spec.mtp_depth > 0) continue;
    if (spec.shared_block >= static_cast<int>(block_homes.size()))
      fail("{}: layer {} uses shared block {} but the config has num_mem_blocks = {}", weights.where(), spec.index,
           spec.shared_block, c.shared_blocks.count);
    block_homes[static_cast<size_t>(spec.shared_block)].push_back(fmt::format(fmt::runtime(names.layer), spec.index) + sn.block);
  }
  // A tensor of shared block `b` named `name` inside the block, from whichever copy holds it.
  auto shared_tensor = [&](int b, const std::string& name) {
    std::vector<std::string> candidates;
    for (const std::string& home : block_homes[static_cast<size_t>(b)]) candidates.push_back(home + name);
    return bind.tied(candidates);
  };
  auto shared_f32 = [&](int b, const std::string& name, int64_t n) {
    const Tensor t = shared_tensor(b, name);
    expect_vector(t, n, weights.where() + ": tensor '" + block_homes[static_cast<size_t>(b)].front() + name + "'");
    Buffer& buf = owned_.emplace_back(static_cast<size_t>(n) * sizeof(float));
    convert_to_f32(t, static_cast<float*>(buf.data()), name.c_str());
    return buf.view(DType::f32, {n});
  };
  // A use's adapter: {down [rank, in], up [out, rank]}, under the adapter list entry of this use.
  auto shared_adapter = [&](int b, const std::string& pattern, int use) {
    const std::string entry = fmt::format(fmt::runtime(pattern), use);
    return LowRankAdapter{.in = shared_tensor(b, entry + "0.weight"), .out = shared_tensor(b, entry + "1.weight")};
  };

  int mamba_layers = 0, attention_layers = 0;
  for (const schedule::LayerSpec& spec : c.schedule.layers) {
    if (spec.mtp_depth > 0) continue;  // MTP heads are for speculative drafting, not the trunk
    const std::string layer = fmt::format(fmt::runtime(names.layer), spec.index);
    Block block;
    block.schedule_index = spec.index;
    block.norm_eps = c.norm_eps;
    block.mlp_activation = c.mlp_activation;
    block.moe_config = &moe_config_;
    block.attention_output_multiplier = c.residual_multiplier * c.mup.attention_output;
    block.mamba_output_multiplier = c.residual_multiplier * c.mup.mamba_output;
    block.ffn_output_multiplier = c.residual_multiplier * c.mup.mlp_output;
    block.attention_input_multiplier = c.mup.attention_input;
    block.mamba_input_multiplier = c.mup.mamba_input;
    const bool has_mixer = spec.mixer != MixerKind::none;
    const bool has_ffn = spec.ffn != FfnKind::none;
    const bool shared = spec.shared_block >= 0;
    if (!has_mixer && !has_ffn) fail("{}: layer {} has neither a mixer nor a feed-forward part", layer, spec.index);
    // Families whose mixer and FFN share one layer norm name (Nemotron-H: one part per layer) bind it once.
    if (has_mixer) block.mixer_norm = f32_norm(layer + (shared ? sn.mixer_norm : names.mixer_norm));
    if (has_ffn)
      block.ffn_norm = has_mixer && names.ffn_norm == names.mixer_norm ? block.mixer_norm : f32_norm(layer + names.ffn_norm);

    if (schedule::has_mamba2(spec)) {
      const std::string p = layer + (shared ? sn.mamba : names.mamba);
      auto w = [&](const char* n) { return bind.required(p + n); };
      auto w_opt = [&](const char* n, bool expected) { return bind.optional(p + n, expected); };
      const Mamba2Dims md{.hidden = D, .ssm = dims.mamba, .dt_min = c.dt_min, .dt_max = c.dt_max,
                          .norm_eps = c.mamba_norm_eps, .gated_norm = c.mamba_gated_norm,
                          .norm_before_gate = c.mamba_norm_before_gate, .projection_multipliers = c.mup.mamba_projection};
      const bool out_bias = c.mamba_out_proj_bias.value_or(c.mamba_proj_bias);
      const Mamba2Weights mw{.in_proj = w("in_proj.weight"), .in_proj_bias = w_opt("in_proj.bias", c.mamba_proj_bias),
                             .conv_weight = w("conv1d.weight"), .conv_bias = w_opt("conv1d.bias", c.mamba_conv_bias),
                             .dt_bias = w("dt_bias"), .A_log = w("A_log"), .D = w("D"),
                             .norm_weight = w_opt("norm.weight", c.mamba_gated_norm),
                             .out_proj = w("out_proj.weight"), .out_proj_bias = w_opt("out_proj.bias", out_bias)};
      block.mamba.emplace(md, mw, p.substr(0, p.size() - 1));
      block.mamba_layer = mamba_layers++;
    }
    if (schedule::has_attention(spec) && !shared) {
      const std::string p = layer + names.attention;
      if (spec.attention.kind != schedule::AttentionKind::full && spec.attention.kind != schedule::AttentionKind::sliding_window)
        fail("{}: attention kind '{}' is not implemented yet", p, schedule::attention_kind_name(spec.attention.kind));
      auto w = [&](const char* n) { return bind.required(p + n); };
      auto w_opt = [&](const char* n) { return bind.optional(p + n, c.attention_bias); };
      AttentionDims ad = attention_dims;
      ad.sliding_window = spec.attention.window;
      AttentionWeights aw;
      aw.q_proj = w("q_proj.weight"), aw.k_proj = w("k_proj.weight"), aw.v_proj = w("v_proj.weight");
      aw.o_proj = w("o_proj.weight");
      aw.q_bias = w_opt("q_proj.bias"), aw.k_bias = w_opt("k_proj.bias"), aw.v_bias = w_opt("v_proj.bias");
      aw.o_bias = w_opt("o_proj.bias");
      block.attention.emplace(ad, aw, p.substr(0, p.size() - 1));
      block.attention_layer = attention_layers++;
    }
    if (shared) {
      // Zamba2: this layer's use of its shared block — shared weights, its own adapters, KV layer, linear.
      const int b = spec.shared_block, use = hybrid_uses++;
      const std::string where = fmt::format("{}{} (shared block {})", layer, sn.block, b);
      AttentionDims ad = attention_dims;
      ad.input_width = 2 * D;
      AttentionWeights aw;
      aw.q_proj = shared_tensor(b, sn.attention + "q_proj.weight");
      aw.k_proj = shared_tensor(b, sn.attention + "k_proj.weight");
      aw.v_proj = shared_tensor(b, sn.attention + "v_proj.weight");
      aw.o_proj = shared_tensor(b, sn.attention + "o_proj.weight");
      if (c.shared_blocks.attention_adapters) {
        aw.q_adapter = shared_adapter(b, sn.q_adapter, use);
        aw.k_adapter = shared_adapter(b, sn.k_adapter, use);
        aw.v_adapter = shared_adapter(b, sn.v_adapter, use);
      }
      const Tensor gate_up = shared_tensor(b, sn.gate_up);
      if (gate_up.ndim != 2 || gate_up.size(0) != 2 * c.intermediate_size || gate_up.size(1) != D)
        fail("{}: {} must be [2·intermediate_size = {}, {}], got {}", where, sn.gate_up, 2 * c.intermediate_size, D,
             gate_up.describe());
      MlpWeights mw;
      mw.gate = gate_up.slice(0, c.intermediate_size);
      mw.up = gate_up.slice(c.intermediate_size, 2 * c.intermediate_size);
      mw.down = shared_tensor(b, sn.down);
      const LowRankAdapter mlp_adapter = shared_adapter(b, sn.mlp_adapter, use);
      mw.adapter_in = mlp_adapter.in;
      if (mlp_adapter.out.ndim != 2 || mlp_adapter.out.size(0) != 2 * c.intermediate_size ||
          mlp_adapter.in.ndim != 2 || mlp_adapter.out.size(1) != mlp_adapter.in.size(0))
        fail("{}: the MLP adapter of use {} must be [rank, {}] and [{}, rank], got {} and {}", where, use, D,
             2 * c.intermediate_size, mlp_adapter.in.describe(), mlp_adapter.out.describe());
      mw.adapter_gate = mlp_adapter.out.slice(0, c.intermediate_size);
      mw.adapter_up = mlp_adapter.out.slice(c.intermediate_size, 2 * c.intermediate_size);
      check_mlp(mw, c.shared_blocks.activation, D, where);
      const Tensor linear = bind.required(layer + sn.linear);
      matrix(linear, D, D, layer + sn.linear);
      block.shared.emplace(SharedBlockUse{.block = b,
                                          .norm_eps = c.norm_eps,
                                          .input_norm = shared_f32(b, sn.input_norm, 2 * D),
                                          .attention = AttentionLayer(ad, aw, where + ".self_attn"),
                                          .attention_layer = attention_layers++,
                                          .ffn_norm = shared_f32(b, sn.ffn_norm, D),
                                          .mlp = mw,
                                          .activation = c.shared_blocks.activation,
                                          .linear = linear});
    }

    if (spec.ffn == FfnKind::mlp) {
      const std::string p = layer + names.mlp;
      MlpWeights mw = bind_mlp(p, names.mlp_names, c.mlp_activation, c.mlp_bias);
      mw.gate_multiplier = c.mup.mlp_gate;
      check_mlp(mw, c.mlp_activation, D, p.substr(0, p.size() - 1));
      block.mlp = mw;
    } else if (spec.ffn == FfnKind::moe) {
      const MoeNames& mn = names.moe_names;
      const std::string p = layer + names.moe;
      const std::string name = p.substr(0, p.size() - 1);
      MoeWeights mw;
      mw.router = bind.required(p + mn.router);
      mw.correction_bias = bind.has(p + mn.correction_bias) ? bind.required(p + mn.correction_bias) : Tensor{};
      if (mw.correction_bias.data && mw.correction_bias.dtype != DType::f32) {
        Buffer& b = owned_.emplace_back(static_cast<size_t>(mw.correction_bias.numel()) * sizeof(float));
        convert_to_f32(mw.correction_bias, static_cast<float*>(b.data()), "gate.e_score_correction_bias");
        mw.correction_bias = b.view(DType::f32, {mw.correction_bias.numel()});
      }
      if (!mn.stacked_gate_up.empty()) {
        // Stacked experts: views of one [E, 2I, D] and one [E, D, I] tensor (gate rows first).
        const Tensor gate_up = bind.required(p + mn.stacked_gate_up), down = bind.required(p + mn.stacked_down);
        if (gate_up.ndim != 3 || gate_up.size(0) != c.moe.n_routed_experts || gate_up.size(1) % 2 != 0 ||
            down.ndim != 3 || down.size(0) != c.moe.n_routed_experts)
          fail("{}: stacked experts must be [{}, 2·intermediate, {}] and [{}, {}, intermediate], got {} and {}", name,
               c.moe.n_routed_experts, D, c.moe.n_routed_experts, D, gate_up.describe(), down.describe());
        const int64_t inter = gate_up.size(1) / 2;
        for (int64_t e = 0; e < c.moe.n_routed_experts; ++e) {
          MlpWeights& ew = mw.experts.emplace_back();
          ew.gate = gate_up[e].slice(0, inter);
          ew.up = gate_up[e].slice(inter, 2 * inter);
          ew.down = down[e];
        }
      } else {
        for (int64_t e = 0; e < c.moe.n_routed_experts; ++e)
          mw.experts.push_back(bind_mlp(p + fmt::format(fmt::runtime(mn.expert), e), mn.expert_mlp,
                                        moe_config_.expert_activation, false));
      }
      if (c.moe.shared_intermediate_size > 0)
        mw.shared = bind_mlp(layer + mn.shared, mn.shared_mlp, moe_config_.shared_activation, false);
      if (c.moe.latent_size > 0) {
        mw.latent_in = bind.required(p + mn.latent_in);
        mw.latent_out = bind.required(p + mn.latent_out);
      }
      check_moe(mw, moe_config_, D, name);
      block.moe = std::move(mw);
    }
    blocks_.push_back(std::move(block));
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

cache::CachePlan Model::cache_plan(const CacheOptions& options) const {
  CacheOptions on_device = options;
  on_device.device = device_;
  return cache::plan_cache(config_.schedule, config_.dims, on_device, identity_);
}

SequenceCache Model::make_cache(const CacheOptions& options) const {
  CacheOptions on_device = options;
  on_device.device = device_;
  return SequenceCache(cache_plan(on_device), on_device);
}

int64_t Model::logits_rows(const ForwardBatch& batch) {
  int64_t rows = 0;
  for (const SequenceStep& s : batch.sequences) rows += s.all_logits ? s.length : (s.length > 0 ? 1 : 0);
  return rows;
}

namespace {

// The step's metadata arrays: one block of host memory (the workspace's host arena) laid out so that a
// GPU step uploads all of it in one copy to a device block of the same layout.
struct StepArrays {
  int64_t* cu_seqlens;
  int64_t* starts;
  int64_t* lengths;
  int32_t* slots;
  uint8_t* has_initial;
  uint8_t* keep;
  int64_t* positions;
  int32_t* tokens;
  int64_t* logit_rows;
};

struct StepLayout {
  size_t cu_seqlens, starts, lengths, slots, has_initial, keep, positions, tokens, logit_rows, total;
};

StepLayout step_layout(int64_t sequences, int64_t tokens, int64_t logit_rows) {
  const auto b = [](int64_t n, size_t size) { return Workspace::rounded(static_cast<size_t>(std::max<int64_t>(n, 1)) * size); };
  StepLayout l{};
  size_t at = 0;
  const auto place = [&](size_t& field, size_t bytes) {
    field = at;
    at += bytes;
  };
  place(l.cu_seqlens, b(sequences + 1, 8));
  place(l.starts, b(sequences, 8));
  place(l.lengths, b(sequences, 8));
  place(l.slots, b(sequences, 4));
  place(l.has_initial, b(sequences, 1));
  place(l.keep, b(sequences, 1));
  place(l.positions, b(tokens, 8));
  place(l.tokens, b(tokens, 4));
  place(l.logit_rows, b(logit_rows, 8));
  l.total = at;
  return l;
}

StepArrays step_arrays(void* base, const StepLayout& l) {
  char* p = static_cast<char*>(base);
  return StepArrays{.cu_seqlens = reinterpret_cast<int64_t*>(p + l.cu_seqlens),
                    .starts = reinterpret_cast<int64_t*>(p + l.starts),
                    .lengths = reinterpret_cast<int64_t*>(p + l.lengths),
                    .slots = reinterpret_cast<int32_t*>(p + l.slots),
                    .has_initial = reinterpret_cast<uint8_t*>(p + l.has_initial),
                    .keep = reinterpret_cast<uint8_t*>(p + l.keep),
                    .positions = reinterpret_cast<int64_t*>(p + l.positions),
                    .tokens = reinterpret_cast<int32_t*>(p + l.tokens),
                    .logit_rows = reinterpret_cast<int64_t*>(p + l.logit_rows)};
}

}  // namespace

void Model::to_device(Precision precision) {
  if (device_ == Device::cuda) fail("the model is already on the GPU");
  WeightUploader uploader(precision);
  const TensorVisitor upload = [&](Tensor& t) { uploader.upload(t); };
  upload(embeddings_);
  upload(final_norm_);
  upload(lm_head_);
  // Routers first, always as f32: transformers computes router logits in f32 and the GPU's fast GEMM
  // would round the activations to bf16 (f32 weights take the f32 GEMM).
  for (Block& block : blocks_)
    if (block.moe) uploader.upload(block.moe->router, Precision::exact);
  for (Block& block : blocks_) block.visit_tensors(upload);
  device_buffers_ = uploader.take_buffers();
  for (Block& block : blocks_) {
    Buffer tables;
    if (block.moe && attach_expert_tables(*block.moe, tables)) device_buffers_.push_back(std::move(tables));
  }
  device_bytes_ = uploader.bytes();
  device_ = Device::cuda;
  precision_ = precision;
}

size_t Model::workspace_bytes(const StepShape& s, int threads) const {
  const int64_t D = hidden_size();
  const auto f32 = [](int64_t n) { return Workspace::rounded(static_cast<size_t>(n) * sizeof(float)); };
  size_t top = step_layout(s.sequences, s.tokens, s.logit_rows).total + f32(s.tokens * D) + f32(s.logit_rows * D);
  if (config_.shared_blocks.count > 0) top += f32(s.tokens * D);  // the original embeddings
  size_t largest_block = 0;
  for (const Block& block : blocks_) largest_block = std::max(largest_block, block.scratch_bytes(s, D, threads, device_));
  return top + largest_block;
}

void Model::forward(const ForwardBatch& batch, SequenceCache& cache, Tensor logits, Workspace& workspace,
                    const Exec& exec, DecodeGraphs* graphs) const {
  const int64_t D = hidden_size(), V = vocab_size();
  const int64_t S = static_cast<int64_t>(batch.sequences.size());
  const int64_t total_tokens = static_cast<int64_t>(batch.tokens.size());
  const int64_t rows = logits_rows(batch);
  const bool gpu = exec.device() == Device::cuda;
  if (exec.device() != device_)
    fail("forward: the model's weights are on the {} but the step runs on the {}", device_name(device_),
         device_name(exec.device()));
  if (workspace.device() != device_)
    fail("forward: the workspace is on the {} but the model on the {}", device_name(workspace.device()), device_name(device_));

  // Validate everything before any state changes. Metadata lives in the workspace: no allocation.
  const StepLayout layout = step_layout(S, total_tokens, rows);
  void* host_block = workspace.take_host_bytes(layout.total);
  StepArrays a = step_arrays(host_block, layout);
  int64_t total = 0, recurrent = 0;
  bool leading = true;
  a.cu_seqlens[0] = 0;
  for (int64_t i = 0; i < S; ++i) {
    const SequenceStep& s = batch.sequences[static_cast<size_t>(i)];
    if (s.length <= 0) fail("forward: every sequence in a step needs at least one token (slot {} has {})", s.slot, s.length);
    if (!cache.is_allocated(s.slot)) fail("forward: slot {} is not allocated", s.slot);
    for (int64_t j = 0; j < i; ++j)
      if (a.slots[j] == s.slot) fail("forward: slot {} appears twice in one step", s.slot);
    const int64_t start = cache.position(s.slot);
    if (s.keep_states) {
      if (cache.mamba && s.length > cache.mamba->speculative_tokens() + 1)
        fail("forward: slot {} keeps the states of {} tokens but the cache holds {} per sequence (speculative_tokens "
             "{} + 1)", s.slot, s.length, cache.mamba->speculative_tokens() + 1, cache.mamba->speculative_tokens());
      if (!leading)
        fail("forward: slot {} keeps per-token states but follows a prefill chunk; token-by-token sequences "
             "(decodes and verifications) must lead the step", s.slot);
    }
    // One-token steps take the recurrent kernels (a fresh one starts from zero state), as must every
    // verification; a leading run of them is the mixer's token-by-token part.
    const bool token_by_token = s.keep_states || s.length == 1;
    if (token_by_token && leading) ++recurrent;
    leading = leading && token_by_token;
    total += s.length;
    a.cu_seqlens[i + 1] = total;
    a.starts[i] = start;
    a.lengths[i] = s.length;
    a.slots[i] = s.slot;
    a.has_initial[i] = start > 0 ? 1 : 0;
    a.keep[i] = s.keep_states ? 1 : 0;
  }
  if (total != total_tokens) fail("forward: {} tokens given for sequences totalling {}", total_tokens, total);
  for (int64_t t = 0; t < total_tokens; ++t)
    if (batch.tokens[static_cast<size_t>(t)] < 0 || batch.tokens[static_cast<size_t>(t)] >= V)
      fail("input id {} at position {} is outside the vocabulary [0, {})", batch.tokens[static_cast<size_t>(t)], t, V);
  if (logits.dtype != DType::f32 || logits.ndim != 2 || logits.shape[0] != rows || logits.shape[1] != V)
    fail("forward: logits must be f32 [{}, {}], got {}", rows, V, logits.describe());
  if (logits.device != device_)
    fail("forward: the logits buffer is on the {} but the model on the {}", device_name(logits.device), device_name(device_));
  const std::span<const int32_t> slots(a.slots, static_cast<size_t>(S));
  cache.prepare_step(slots, std::span<const int64_t>(a.lengths, static_cast<size_t>(S)));
  if (total == 0) return;

  for (int64_t i = 0; i < S; ++i)
    for (int64_t j = 0; j < a.lengths[i]; ++j) a.positions[a.cu_seqlens[i] + j] = a.starts[i] + j;
  std::copy(batch.tokens.begin(), batch.tokens.end(), a.tokens);
  int64_t r = 0;
  for (int64_t i = 0; i < S; ++i) {
    const SequenceStep& s = batch.sequences[static_cast<size_t>(i)];
    const int64_t first = s.all_logits ? a.cu_seqlens[i] : a.cu_seqlens[i + 1] - 1;
    for (int64_t j = 0; j < (s.all_logits ? s.length : 1); ++j) a.logit_rows[r++] = first + j;
  }

  // A GPU step reads the same arrays from one device block, uploaded in one asynchronous copy (with the
  // KV block tables, when they changed).
  StepArrays d = a;
  if (gpu) {
    void* device_block = workspace.take_bytes(layout.total);
    cuda::copy_async(device_block, host_block, layout.total, exec.cuda().stream());
    d = step_arrays(device_block, layout);
    if (cache.kv) cache.kv->sync_device_tables(exec.cuda().stream());
  }
  const Device device = exec.device();
  const Tensor token_ids = Tensor::contiguous(d.tokens, DType::i32, {total}, device);

  StepContext step{
      .varlen = {.cu_seqlens = std::span<const int64_t>(a.cu_seqlens, static_cast<size_t>(S + 1)),
                 .slots = slots,
                 .has_initial_state = std::span<const uint8_t>(a.has_initial, static_cast<size_t>(S)),
                 .device = gpu ? kernels::VarlenDevice{.cu_seqlens = d.cu_seqlens, .slots = d.slots,
                                                       .has_initial_state = d.has_initial, .row_offset = 0}
                               : kernels::VarlenDevice{}},
      .start_positions = {std::span<const int64_t>(a.starts, static_cast<size_t>(S)), gpu ? d.starts : nullptr},
      .positions = {std::span<const int64_t>(a.positions, static_cast<size_t>(total)), gpu ? d.positions : nullptr},
      .keep_states = std::span<const uint8_t>(a.keep, static_cast<size_t>(S)),
      .recurrent_sequences = recurrent,
      .token_ids = token_ids,
      .cache = cache,
      .workspace = workspace,
      .exec = exec};

  const Tensor row_index = Tensor::contiguous(d.logit_rows, DType::i64, {rows}, device);
  const auto compute = [&] {
  // Embeddings → f32 residual stream; then every block, its scratch returned when it ends.
  Tensor hidden = workspace.take(DType::f32, {total, D});
  kernels::embedding_gather(embeddings_, token_ids, hidden, exec);
  if (config_.embedding_multiplier != 1.0f) kernels::scale(hidden, config_.embedding_multiplier, exec);
  // Shared blocks (Zamba2) read the original embeddings next to the residual stream.
  Tensor embeddings;
  if (config_.shared_blocks.count > 0) {
    embeddings = workspace.take(DType::f32, {total, D});
    kernels::copy_scaled(embeddings, hidden, 1.0f, exec);
  }
  for (const Block& block : blocks_) {
    const Workspace::Scope scratch(workspace);
    block.forward(hidden, embeddings, step);
  }

  // Final norm and LM head over the rows that want logits.
  Tensor selected = workspace.take(DType::f32, {rows, D});
  kernels::gather_rows(hidden, row_index, selected, exec);
  kernels::rms_norm(kernels::RmsNormParams{.eps = config_.norm_eps}, selected, final_norm_, selected, exec);
  kernels::gemm(selected, lm_head_, logits, kernels::GemmParams{}, exec);
  if (config_.logits_scaling != 1.0f) kernels::scale(logits, 1.0f / config_.logits_scaling, exec);
  if (config_.logits_multiplier != 1.0f) kernels::scale(logits, config_.logits_multiplier, exec);
  };

  // MoE layers join a captured step only when their experts run grouped (no host read of the grouping).
  bool steady_decode = gpu && graphs != nullptr && recurrent == S;
  for (const Block& block : blocks_)
    if (block.moe && !moe_runs_grouped(*block.moe, *block.moe_config, total_tokens, Device::cuda))
      steady_decode = false;
  for (int64_t i = 0; i < S && steady_decode; ++i) steady_decode = a.lengths[i] == 1 && !a.keep[i];
  if (steady_decode)
    graphs->run({.sequences = S, .metadata = d.cu_seqlens, .logits = logits.data}, exec.cuda(), compute);
  else
    compute();

  for (int64_t i = 0; i < S; ++i) cache.advance(a.slots[i], a.lengths[i]);
}

}  // namespace strata::model
