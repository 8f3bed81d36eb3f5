#include "strata/model/model_config.h"

#include <cmath>

#include "strata/core/error.h"
#include "strata/io/config_json.h"

namespace strata::model {

namespace {

// Typed field access with errors that name the field and the file.
class Fields {
 public:
  Fields(const nlohmann::json& json, const std::string& filename) : json_(json), filename_(filename) {}

  bool has(const char* key) const { return json_.contains(key) && !json_[key].is_null(); }

  double number(const char* key, std::optional<double> fallback = std::nullopt) const {
    if (!has(key)) {
      if (fallback) return *fallback;
      fail("{}: missing required field '{}'", filename_, key);
    }
    const auto& v = json_[key];
    if (!v.is_number()) fail("{}: field '{}' must be a number, got {}", filename_, key, v.dump());
    return v.get<double>();
  }
  int64_t integer(const char* key, std::optional<int64_t> fallback = std::nullopt) const {
    if (!has(key)) {
      if (fallback) return *fallback;
      fail("{}: missing required field '{}'", filename_, key);
    }
    const auto& v = json_[key];
    if (!v.is_number_integer()) fail("{}: field '{}' must be an integer, got {}", filename_, key, v.dump());
    return v.get<int64_t>();
  }
  bool boolean(const char* key, bool fallback) const {
    if (!has(key)) return fallback;
    const auto& v = json_[key];
    if (!v.is_boolean()) fail("{}: field '{}' must be true or false, got {}", filename_, key, v.dump());
    return v.get<bool>();
  }
  std::string string(const char* key, const std::string& fallback) const {
    if (!has(key)) return fallback;
    const auto& v = json_[key];
    if (!v.is_string()) fail("{}: field '{}' must be a string, got {}", filename_, key, v.dump());
    return v.get<std::string>();
  }
  std::optional<int64_t> optional_token(const char* key) const {
    if (!has(key)) return std::nullopt;
    const auto& v = json_[key];
    if (v.is_array()) {  // some configs list several EOS ids; the first is the canonical one
      if (v.empty()) return std::nullopt;
      if (!v[0].is_number_integer()) fail("{}: field '{}' must hold integers, got {}", filename_, key, v.dump());
      return v[0].get<int64_t>();
    }
    return integer(key);
  }
  const nlohmann::json& json() const { return json_; }
  const std::string& filename() const { return filename_; }

 private:
  const nlohmann::json& json_;
  const std::string& filename_;
};

void read_time_step_limit(const Fields& f, ModelConfig& c) {
  if (!f.has("time_step_limit")) return;
  const auto& v = f.json()["time_step_limit"];
  if (!v.is_array() || v.size() != 2 || !v[0].is_number() || !v[1].is_number())
    fail("{}: field 'time_step_limit' must be [min, max], got {}", f.filename(), v.dump());
  c.dt_min = static_cast<float>(v[0].get<double>());
  c.dt_max = static_cast<float>(v[1].get<double>());
  if (!(c.dt_min >= 0.0f) || !(c.dt_max > c.dt_min))
    fail("{}: field 'time_step_limit' must satisfy 0 <= min < max, got {}", f.filename(), v.dump());
}

void read_mamba2(const Fields& f, ModelConfig& c) {
  c.family = Family::mamba2;
  c.norm_eps = static_cast<float>(f.number("layer_norm_epsilon", 1e-5));
  c.mamba_norm_eps = c.norm_eps;
  c.mamba_conv_bias = f.boolean("use_conv_bias", true);
  c.mamba_proj_bias = f.boolean("use_bias", false);
  // mamba_ssm configs say tie_embeddings; HF ones tie_word_embeddings (default true for Mamba2).
  c.tie_word_embeddings = f.boolean("tie_word_embeddings", f.boolean("tie_embeddings", true));
  read_time_step_limit(f, c);
}

void read_nemotron_h(const Fields& f, ModelConfig& c) {
  c.family = Family::nemotron_h;
  c.norm_eps = static_cast<float>(f.number("layer_norm_epsilon", 1e-5));
  c.mamba_norm_eps = c.norm_eps;
  c.mamba_conv_bias = f.boolean("use_conv_bias", true);
  c.mamba_proj_bias = f.boolean("mamba_proj_bias", f.boolean("use_bias", false));
  c.attention_bias = f.boolean("attention_bias", false);
  c.tie_word_embeddings = f.boolean("tie_word_embeddings", false);
  read_time_step_limit(f, c);

  bool has_mlp = false, has_moe = false;
  for (const auto& layer : c.schedule.layers) {
    has_mlp |= layer.ffn == schedule::FfnKind::mlp;
    has_moe |= layer.ffn == schedule::FfnKind::moe;
  }
  if (has_mlp || has_moe) {
    const std::string act = f.string("mlp_hidden_act", "relu2");
    if (act != "relu2") fail("{}: mlp_hidden_act '{}' is not supported (Nemotron-H uses relu2)", f.filename(), act);
    c.mlp_activation = MlpActivation::relu2;
    c.mlp_bias = f.boolean("mlp_bias", false);
  }
  if (has_mlp) c.intermediate_size = f.integer("intermediate_size");
  if (has_moe) {
    MoeSettings& m = c.moe;
    m.n_routed_experts = f.integer("n_routed_experts");
    m.top_k = f.integer("num_experts_per_tok");
    m.intermediate_size = f.integer("moe_intermediate_size");
    m.shared_intermediate_size =
        f.integer("n_shared_experts", 1) > 0 ? f.integer("moe_shared_expert_intermediate_size", 0) : 0;
    m.n_group = f.integer("n_group", 1);
    m.topk_group = f.integer("topk_group", 1);
    m.norm_topk_prob = f.boolean("norm_topk_prob", true);
    m.routed_scaling_factor = static_cast<float>(f.number("routed_scaling_factor", 1.0));
    m.latent_size = f.integer("moe_latent_size", 0);
    if (m.n_routed_experts <= 0 || m.top_k <= 0 || m.top_k > m.n_routed_experts)
      fail("{}: num_experts_per_tok ({}) must be between 1 and n_routed_experts ({})", f.filename(), m.top_k,
           m.n_routed_experts);
    if (m.n_group <= 0 || m.n_routed_experts % m.n_group != 0 || m.topk_group <= 0 || m.topk_group > m.n_group)
      fail("{}: n_group ({}) must divide n_routed_experts ({}) and topk_group ({}) must be in [1, n_group]",
           f.filename(), m.n_group, m.n_routed_experts, m.topk_group);
    if (m.intermediate_size <= 0) fail("{}: moe_intermediate_size must be positive", f.filename());
  }
}

}  // namespace

ModelConfig model_config_from_json(const nlohmann::json& json, const std::string& filename) {
  schedule::HfModel hf = schedule::schedule_from_hf_config(json, filename);
  ModelConfig c;
  c.model_type = hf.model_type;
  c.schedule = std::move(hf.schedule);
  c.dims = hf.dims;
  const Fields f(json, filename);
  if (c.model_type == "mamba2") {
    read_mamba2(f, c);
  } else if (c.model_type == "nemotron_h") {
    read_nemotron_h(f, c);
  } else {
    fail("{}: model_type '{}' is not supported (strata runs mamba2 and nemotron_h)", filename, c.model_type);
  }
  c.bos_token_id = f.optional_token("bos_token_id");
  c.eos_token_id = f.optional_token("eos_token_id");
  c.pad_token_id = f.optional_token("pad_token_id");
  return c;
}

ModelConfig load_model_config(const std::filesystem::path& model_dir) {
  const std::filesystem::path path = model_dir / "config.json";
  if (!std::filesystem::is_regular_file(path))
    fail("{}: cannot read the model config (is {} a model directory?)", path.string(), model_dir.string());
  return model_config_from_json(io::read_config_json(path), path.string());
}

std::string_view family_name(Family family) {
  switch (family) {
    case Family::mamba2: return "mamba2";
    case Family::nemotron_h: return "nemotron_h";
  }
  return "?";
}

}  // namespace strata::model
