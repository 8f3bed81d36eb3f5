#include "strata/model/synthetic.h"

#include <cmath>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "strata/core/error.h"
#include "strata/model/families/family.h"

namespace strata::model {

namespace {

using json = nlohmann::json;

struct Spec {
  std::string name, description;
  json config;  // a Hugging Face config.json, as the hub ships it
};

json mamba2_config(int64_t d_model, int64_t n_layer) {
  return json{{"model_type", "mamba2"}, {"hidden_size", d_model}, {"num_hidden_layers", n_layer},
              {"num_heads", 2 * d_model / 64}, {"head_dim", 64}, {"state_size", 128}, {"n_groups", 1},
              {"conv_kernel", 4}, {"expand", 2}, {"chunk_size", 256}, {"vocab_size", 50288},
              {"tie_word_embeddings", true}, {"layer_norm_epsilon", 1e-5}, {"use_conv_bias", true},
              {"use_bias", false}};
}

json nemotron_h_config(int64_t hidden, const std::string& pattern, int64_t mamba_heads, int64_t groups,
                       int64_t attention_heads, int64_t kv_heads, int64_t intermediate, int64_t vocab) {
  return json{{"model_type", "nemotron_h"}, {"hidden_size", hidden}, {"hybrid_override_pattern", pattern},
              {"num_hidden_layers", static_cast<int64_t>(pattern.size())}, {"mamba_num_heads", mamba_heads},
              {"mamba_head_dim", 64}, {"ssm_state_size", 128}, {"n_groups", groups}, {"conv_kernel", 4},
              {"chunk_size", 128}, {"num_attention_heads", attention_heads}, {"num_key_value_heads", kv_heads},
              {"head_dim", 128}, {"intermediate_size", intermediate}, {"mlp_hidden_act", "relu2"},
              {"vocab_size", vocab}, {"tie_word_embeddings", false}, {"layer_norm_epsilon", 1e-5},
              {"use_conv_bias", true}, {"mamba_proj_bias", false}, {"attention_bias", false}, {"mlp_bias", false}};
}

std::vector<Spec> specs() {
  std::vector<Spec> s;
  s.push_back({"mamba2-130m", "state-spaces/mamba2-130m: 24 Mamba2 layers, d_model 768", mamba2_config(768, 24)});
  s.push_back({"mamba2-370m", "state-spaces/mamba2-370m: 48 Mamba2 layers, d_model 1024", mamba2_config(1024, 48)});
  s.push_back({"mamba2-2.7b", "state-spaces/mamba2-2.7b: 64 Mamba2 layers, d_model 2560", mamba2_config(2560, 64)});
  s.push_back({"nemotronh-8b", "Nemotron-H-8B-Base: 52 layers (24 M, 4 *, 24 -), d 4096",
               nemotron_h_config(4096, "M-M-M-M*-M-M-M-M-M*-M-M-M-M-M*-M-M-M-M-M*-M-M-M-M-M-", 128, 8, 32, 8,
                                 21504, 131072)});
  // A small Nemotron-H with MoE in the style of Nemotron-3-Nano (MoE FFNs between Mamba2 layers, a few
  // attention layers), sized to run anywhere.
  json moe = nemotron_h_config(1024, "MEMEM*EMEMEM*EMEME", 32, 4, 8, 2, 2048, 32768);
  moe["n_routed_experts"] = 32;
  moe["num_experts_per_tok"] = 4;
  moe["moe_intermediate_size"] = 512;
  moe["moe_shared_expert_intermediate_size"] = 1024;
  moe["n_group"] = 1;
  moe["topk_group"] = 1;
  moe["norm_topk_prob"] = true;
  moe["routed_scaling_factor"] = 2.5;
  s.push_back({"nemotronh-moe-1b", "Nemotron-H with MoE: 18 layers (8 M, 2 *, 8 E of 32 experts top-4), d 1024", moe});
  return s;
}

uint64_t splitmix(uint64_t& x) {
  uint64_t z = (x += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// Fills a bf16 tensor with uniform values in [-scale, scale], in parallel, deterministic per seed.
void fill_uniform(Tensor t, float scale, uint64_t seed, ThreadPool& pool) {
  uint16_t* p = t.ptr<uint16_t>();
  const int64_t n = t.numel(), block = 1 << 16;
  pool.parallel_for((n + block - 1) / block, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      uint64_t state = seed ^ (static_cast<uint64_t>(b) * 0x632be59bd9b4e019ull);
      for (int64_t i = b * block; i < std::min(n, (b + 1) * block); ++i) {
        const float u = static_cast<float>(splitmix(state) >> 40) * (1.0f / 16777216.0f);
        p[i] = f32_to_bf16((2.0f * u - 1.0f) * scale);
      }
    }
  });
}

void fill_values(Tensor t, const std::function<float(int64_t)>& value) {
  for (int64_t i = 0; i < t.numel(); ++i) t.ptr<uint16_t>()[i] = f32_to_bf16(value(i));
}

}  // namespace

std::vector<std::pair<std::string, std::string>> synthetic_model_names() {
  std::vector<std::pair<std::string, std::string>> out;
  for (const Spec& s : specs()) out.emplace_back(s.name, s.description);
  return out;
}

std::unique_ptr<Model> synthetic_model(const std::string& name, ThreadPool& pool, uint64_t seed) {
  const std::vector<Spec> all = specs();
  const Spec* spec = nullptr;
  std::string known;
  for (const Spec& s : all) {
    if (s.name == name) spec = &s;
    known += (known.empty() ? "" : ", ") + s.name;
  }
  if (!spec) fail("unknown synthetic model '{}' (known: {})", name, known);
  const std::string label = "synthetic model " + name;
  ModelConfig c = model_config_from_json(spec->config, label);
  auto weights = std::make_unique<MemoryWeights>(label);
  const int64_t D = c.dims.hidden_size, V = c.dims.vocab_size;
  uint64_t tensor_seed = seed;
  auto linear = [&](const std::string& n, int64_t out, int64_t in) {
    fill_uniform(weights->add(n, DType::bf16, {out, in}), 1.0f / std::sqrt(static_cast<float>(in)), ++tensor_seed, pool);
  };
  auto ones = [&](const std::string& n, int64_t size) { fill_values(weights->add(n, DType::bf16, {size}), [](int64_t) { return 1.0f; }); };

  // Names come from the family's table, so a synthetic model binds exactly as a checkpoint would.
  const TensorNames& names = c.family->names;
  fill_uniform(weights->add(names.embeddings.front(), DType::bf16, {V, D}), 1.0f, ++tensor_seed, pool);
  ones(names.final_norm, D);
  if (!c.tie_word_embeddings) linear(names.lm_head, V, D);
  const auto& m = c.dims.mamba;
  const auto& a = c.dims.attention;
  for (const auto& layer : c.schedule.layers) {
    if (layer.mtp_depth > 0) continue;
    const std::string l = fmt::format(fmt::runtime(names.layer), layer.index);
    const bool has_mixer = layer.mixer != schedule::MixerKind::none, has_ffn = layer.ffn != schedule::FfnKind::none;
    if (has_mixer) ones(l + names.mixer_norm, D);
    if (has_ffn && !(has_mixer && names.ffn_norm == names.mixer_norm)) ones(l + names.ffn_norm, D);
    if (layer.mixer == schedule::MixerKind::mamba2) {
      const std::string p = l + names.mamba;
      const int64_t E = m.inner_size(), C = m.conv_channels(), H = m.n_heads;
      linear(p + "in_proj.weight", 2 * E + 2 * m.n_groups * m.state_size + H, D);
      fill_uniform(weights->add(p + "conv1d.weight", DType::bf16, {C, 1, m.conv_kernel}), 0.5f, ++tensor_seed, pool);
      fill_uniform(weights->add(p + "conv1d.bias", DType::bf16, {C}), 0.1f, ++tensor_seed, pool);
      // dt in [0.001, 0.1] through softplus, A in [-16, -1]: a trained model's ranges.
      fill_values(weights->add(p + "dt_bias", DType::bf16, {H}), [H](int64_t h) {
        const double dt = 0.001 * std::pow(100.0, static_cast<double>(h) / static_cast<double>(std::max<int64_t>(1, H - 1)));
        return static_cast<float>(std::log(std::expm1(dt)));
      });
      fill_values(weights->add(p + "A_log", DType::bf16, {H}),
                  [H](int64_t h) { return static_cast<float>(std::log(1.0 + 15.0 * static_cast<double>(h) / static_cast<double>(H))); });
      ones(p + "D", H);
      ones(p + "norm.weight", E);
      linear(p + "out_proj.weight", D, E);
    } else if (layer.mixer == schedule::MixerKind::attention) {
      const std::string p = l + names.attention;
      linear(p + "q_proj.weight", a.n_heads * a.head_dim, D);
      linear(p + "k_proj.weight", a.n_kv_heads * a.head_dim, D);
      linear(p + "v_proj.weight", a.n_kv_heads * a.head_dim, D);
      linear(p + "o_proj.weight", D, a.n_heads * a.head_dim);
    }
    if (layer.ffn == schedule::FfnKind::mlp) {
      const std::string p = l + names.mlp;
      linear(p + "up_proj.weight", c.intermediate_size, D);
      if (kernels::is_gated(c.mlp_activation)) linear(p + "gate_proj.weight", c.intermediate_size, D);
      linear(p + "down_proj.weight", D, c.intermediate_size);
    } else if (layer.ffn == schedule::FfnKind::moe) {
      const std::string p = l + names.moe;
      linear(p + "gate.weight", c.moe.n_routed_experts, D);
      Tensor bias = weights->add(p + "gate.e_score_correction_bias", DType::f32, {c.moe.n_routed_experts});
      for (int64_t e = 0; e < c.moe.n_routed_experts; ++e) bias.ptr<float>()[e] = 0.0f;
      for (int64_t e = 0; e < c.moe.n_routed_experts; ++e) {
        linear(fmt::format("{}experts.{}.up_proj.weight", p, e), c.moe.intermediate_size, D);
        linear(fmt::format("{}experts.{}.down_proj.weight", p, e), D, c.moe.intermediate_size);
      }
      if (c.moe.shared_intermediate_size > 0) {
        linear(p + "shared_experts.up_proj.weight", c.moe.shared_intermediate_size, D);
        linear(p + "shared_experts.down_proj.weight", D, c.moe.shared_intermediate_size);
      }
    }
  }
  return Model::from_weights(std::move(c), std::move(weights), fmt::format("{}:{}", label, seed));
}

}  // namespace strata::model
