#include "strata/model/gguf_model.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "strata/core/convert.h"
#include "strata/core/error.h"
#include "strata/io/ggml_dequant.h"
#include "strata/model/model_config.h"
#include "strata/model/weight_source.h"

namespace strata::model {

namespace {

using nlohmann::json;

std::string layer_name(int64_t i, std::string_view part) { return fmt::format("blk.{}.{}", i, part); }

// The layer kinds, from which tensors each layer has (llama.cpp's loader derives them from per-layer
// head_count_kv / feed_forward_length; the tensors say the same without the arithmetic).
std::string layer_pattern(const io::GgufFile& file, int64_t layers) {
  std::string pattern;
  for (int64_t i = 0; i < layers; ++i) {
    if (file.has(layer_name(i, "ssm_in.weight")))
      pattern += 'M';
    else if (file.has(layer_name(i, "attn_q.weight")))
      pattern += '*';
    else if (file.has(layer_name(i, "ffn_gate_inp.weight")))
      pattern += 'E';
    else if (file.has(layer_name(i, "ffn_up.weight")))
      pattern += '-';
    else
      fail("GGUF {}: layer {} has none of ssm_in, attn_q, ffn_gate_inp or ffn_up; cannot tell its kind",
           file.path().string(), i);
  }
  return pattern;
}

// An integer key of the architecture (`ARCH.key`), or the per-layer array's largest entry (llama.cpp
// writes head_count_kv and feed_forward_length per layer for nemotron_h).
int64_t arch_int(const io::GgufFile& file, const std::string& arch, const std::string& key) {
  const std::string full = arch + "." + key;
  const io::GgufValue* value = file.find(full);
  if (value != nullptr && value->type == io::GgufType::array) {
    int64_t largest = 0;
    for (int64_t v : file.get_int_array(full)) largest = std::max(largest, v);
    return largest;
  }
  return file.get_int(full);
}

std::optional<int64_t> arch_int_or(const io::GgufFile& file, const std::string& arch, const std::string& key) {
  if (file.find(arch + "." + key) == nullptr) return std::nullopt;
  return arch_int(file, arch, key);
}

int64_t exact_quotient(const io::GgufFile& file, int64_t a, int64_t b, const char* what) {
  if (b <= 0 || a % b != 0)
    fail("GGUF {}: {} ({} / {}) is not a whole number", file.path().string(), what, a, b);
  return a / b;
}

}  // namespace

json gguf_hf_config(const io::GgufFile& file) {
  const std::string where = file.path().string();
  const std::string arch = file.get_string("general.architecture");
  if (arch != "mamba2" && arch != "nemotron_h" && arch != "nemotron_h_moe")
    fail("GGUF {}: general.architecture '{}' is not supported (strata reads mamba2, nemotron_h and "
         "nemotron_h_moe GGUF files)",
         where, arch);
  if (!file.has("token_embd.weight")) fail("GGUF {}: no token_embd.weight tensor", where);
  const io::GgufTensorInfo& embedding = file.info("token_embd.weight");
  if (embedding.shape.size() != 2) fail("GGUF {}: token_embd.weight is not a matrix", where);
  const int64_t layers = arch_int(file, arch, "block_count");
  const int64_t hidden = arch_int(file, arch, "embedding_length");
  if (layers <= 0 || layers > 4096) fail("GGUF {}: {}.block_count is {}; expected 1..4096", where, arch, layers);
  const int64_t inner = arch_int(file, arch, "ssm.inner_size");
  const int64_t heads = arch_int(file, arch, "ssm.time_step_rank");  // Mamba2: the number of SSM heads
  const int64_t head_dim = exact_quotient(file, inner, heads, "ssm.inner_size / ssm.time_step_rank");
  const double eps = file.get_float(arch + ".attention.layer_norm_rms_epsilon");
  const std::string pattern = layer_pattern(file, layers);
  const size_t first_mamba = pattern.find('M');
  const bool conv_bias = first_mamba != std::string::npos &&
                         file.has(layer_name(static_cast<int64_t>(first_mamba), "ssm_conv1d.bias"));
  const bool proj_bias = first_mamba != std::string::npos &&
                         file.has(layer_name(static_cast<int64_t>(first_mamba), "ssm_in.bias"));

  json c;
  c["vocab_size"] = embedding.shape[0];
  c["hidden_size"] = hidden;
  c["num_hidden_layers"] = layers;
  c["layer_norm_epsilon"] = eps;
  c["tie_word_embeddings"] = !file.has("output.weight");
  c["conv_kernel"] = arch_int(file, arch, "ssm.conv_kernel");
  c["n_groups"] = arch_int(file, arch, "ssm.group_count");
  c["use_conv_bias"] = conv_bias;
  c["use_bias"] = proj_bias;
  c["time_step_limit"] = json::array({0.0, std::numeric_limits<double>::infinity()});  // GGUF keeps none
  if (const auto context = arch_int_or(file, arch, "context_length")) c["max_position_embeddings"] = *context;
  if (const auto bos = file.get_int_or("tokenizer.ggml.bos_token_id")) c["bos_token_id"] = *bos;
  if (const auto eos = file.get_int_or("tokenizer.ggml.eos_token_id")) c["eos_token_id"] = *eos;
  if (const auto pad = file.get_int_or("tokenizer.ggml.padding_token_id")) c["pad_token_id"] = *pad;
  if (arch == "mamba2") {
    c["model_type"] = "mamba2";
    c["state_size"] = arch_int(file, arch, "ssm.state_size");
    c["num_heads"] = heads;
    c["head_dim"] = head_dim;
    c["expand"] = exact_quotient(file, inner, hidden, "ssm.inner_size / embedding_length (Mamba2's expand)");
    if (pattern.find_first_not_of('M') != std::string::npos)
      fail("GGUF {}: a mamba2 file has a layer that is not a Mamba2 mixer", where);
    return c;
  }
  c["model_type"] = "nemotron_h";
  c["hybrid_override_pattern"] = pattern;
  c["ssm_state_size"] = arch_int(file, arch, "ssm.state_size");
  c["mamba_num_heads"] = heads;
  c["mamba_head_dim"] = head_dim;
  c["mamba_hidden_act"] = "silu";
  c["mlp_hidden_act"] = "relu2";
  c["num_attention_heads"] = arch_int(file, arch, "attention.head_count");
  const std::optional<int64_t> kv_heads = arch_int_or(file, arch, "attention.head_count_kv");
  c["num_key_value_heads"] = kv_heads.value_or(c["num_attention_heads"].get<int64_t>());
  if (const auto key_length = arch_int_or(file, arch, "attention.key_length")) c["head_dim"] = *key_length;
  if (pattern.find('-') != std::string::npos) {
    // The dense MLP width: the rows of the first MLP layer's up matrix (the per-layer array mixes in the
    // MoE layers' widths for nemotron_h_moe).
    const size_t first = pattern.find('-');
    c["intermediate_size"] = file.info(layer_name(static_cast<int64_t>(first), "ffn_up.weight")).shape[0];
  }
  if (pattern.find('E') != std::string::npos) {
    c["n_routed_experts"] = arch_int(file, arch, "expert_count");
    c["num_experts_per_tok"] = arch_int(file, arch, "expert_used_count");
    c["moe_intermediate_size"] = arch_int(file, arch, "expert_feed_forward_length");
    c["moe_shared_expert_intermediate_size"] = arch_int_or(file, arch, "expert_shared_feed_forward_length").value_or(0);
    c["n_shared_experts"] = arch_int_or(file, arch, "expert_shared_count").value_or(1);
    c["norm_topk_prob"] = file.get_bool_or(arch + ".expert_weights_norm").value_or(true);
    c["routed_scaling_factor"] = file.get_float_or(arch + ".expert_weights_scale").value_or(1.0);
    c["n_group"] = arch_int_or(file, arch, "expert_group_count").value_or(1);
    c["topk_group"] = arch_int_or(file, arch, "expert_group_used_count").value_or(1);
    const size_t first = pattern.find('E');
    if (file.has(layer_name(static_cast<int64_t>(first), "ffn_latent_in.weight")))
      fail("GGUF {}: MoE latent projections (Nemotron 3 Super) are not supported from GGUF yet", where);
  }
  return c;
}

namespace {

// The file's tensors under Hugging Face names. Most are views into the mapping; the few ggml stores
// otherwise are converted once into memory owned here.
class GgufWeights : public WeightSource {
 public:
  GgufWeights(io::GgufFile file, const json& config) : file_(std::move(file)), owned_(file_.path().string()) {
    const std::string pattern = config.contains("hybrid_override_pattern")
                                    ? config["hybrid_override_pattern"].get<std::string>()
                                    : std::string(config["num_hidden_layers"].get<size_t>(), 'M');
    const int64_t n_groups = config["n_groups"].get<int64_t>();
    put("backbone.embeddings.weight", global("token_embd.weight"));
    put("backbone.norm_f.weight", global("output_norm.weight"));
    if (file_.has("output.weight")) put("lm_head.weight", global("output.weight"));
    for (int64_t i = 0; i < static_cast<int64_t>(pattern.size()); ++i) {
      const std::string hf = fmt::format("backbone.layers.{}.", i), mixer = hf + "mixer.";
      put(hf + "norm.weight", tensor(i, "attn_norm.weight"));
      switch (pattern[static_cast<size_t>(i)]) {
        case 'M': {
          put(mixer + "in_proj.weight", tensor(i, "ssm_in.weight"));
          if (has(i, "ssm_in.bias")) put(mixer + "in_proj.bias", tensor(i, "ssm_in.bias"));
          const Tensor conv = tensor(i, "ssm_conv1d.weight");  // ggml {K, C}: [C, K]
          if (conv.ndim != 2) fail("GGUF {}: {} is not a matrix", where(), layer_name(i, "ssm_conv1d.weight"));
          put(mixer + "conv1d.weight", conv.reshape({conv.shape[0], 1, conv.shape[1]}));
          if (has(i, "ssm_conv1d.bias")) put(mixer + "conv1d.bias", tensor(i, "ssm_conv1d.bias"));
          put(mixer + "dt_bias", tensor(i, "ssm_dt.bias"));
          put(mixer + "A_log", a_log(i, mixer + "A_log"));
          put(mixer + "D", flat(tensor(i, "ssm_d")));
          const Tensor norm = tensor(i, "ssm_norm.weight");  // [G, inner/G]
          if (norm.ndim == 2 && norm.shape[0] != n_groups)
            fail("GGUF {}: {} has {} groups; ssm.group_count says {}", where(), layer_name(i, "ssm_norm.weight"),
                 norm.shape[0], n_groups);
          put(mixer + "norm.weight", flat(norm));
          put(mixer + "out_proj.weight", tensor(i, "ssm_out.weight"));
          if (has(i, "ssm_out.bias")) put(mixer + "out_proj.bias", tensor(i, "ssm_out.bias"));
          break;
        }
        case '*':
          put(mixer + "q_proj.weight", unpermuted(i, "attn_q.weight", config["num_attention_heads"].get<int64_t>(),
                                                  mixer + "q_proj.weight"));
          put(mixer + "k_proj.weight", unpermuted(i, "attn_k.weight", config["num_key_value_heads"].get<int64_t>(),
                                                  mixer + "k_proj.weight"));
          put(mixer + "v_proj.weight", tensor(i, "attn_v.weight"));
          put(mixer + "o_proj.weight", tensor(i, "attn_output.weight"));
          break;
        case '-':
          put(mixer + "up_proj.weight", tensor(i, "ffn_up.weight"));
          put(mixer + "down_proj.weight", tensor(i, "ffn_down.weight"));
          break;
        default: {  // 'E'
          put(mixer + "gate.weight", tensor(i, "ffn_gate_inp.weight"));
          if (has(i, "exp_probs_b.bias")) put(mixer + "gate.e_score_correction_bias", tensor(i, "exp_probs_b.bias"));
          const Tensor up = tensor(i, "ffn_up_exps.weight"), down = tensor(i, "ffn_down_exps.weight");
          if (up.ndim != 3 || down.ndim != 3 || up.shape[0] != down.shape[0])
            fail("GGUF {}: layer {}'s stacked experts are not [experts, rows, cols] tensors of one expert count",
                 where(), i);
          for (int64_t e = 0; e < up.shape[0]; ++e) {
            put(fmt::format("{}experts.{}.up_proj.weight", mixer, e), up[e]);
            put(fmt::format("{}experts.{}.down_proj.weight", mixer, e), down[e]);
          }
          if (has(i, "ffn_up_shexp.weight")) {
            put(mixer + "shared_experts.up_proj.weight", tensor(i, "ffn_up_shexp.weight"));
            put(mixer + "shared_experts.down_proj.weight", tensor(i, "ffn_down_shexp.weight"));
          }
          break;
        }
      }
    }
    for (const io::GgufTensorInfo& info : file_.tensors())
      if (!used_.count(info.name))
        fail("GGUF {}: tensor '{}' is not one strata knows for this architecture", where(), info.name);
    for (const auto& [name, t] : views_) names_.push_back(name);
  }

  std::string where() const override { return file_.path().string(); }
  const std::vector<std::string>& names() const override { return names_; }
  bool has(std::string_view name) const override { return views_.find(name) != views_.end(); }
  Tensor get(std::string_view name) const override {
    const auto it = views_.find(name);
    if (it == views_.end()) fail("GGUF {}: no tensor for '{}'", where(), name);
    return it->second;
  }

 private:
  bool has(int64_t layer, std::string_view part) const { return file_.has(layer_name(layer, part)); }
  Tensor global(const std::string& name) {
    if (!file_.has(name)) fail("GGUF {}: tensor '{}' is missing", where(), name);
    used_.insert(name);
    const io::GgufTensorInfo& info = file_.info(name);
    if (info.type == io::GgmlType::f32 || info.type == io::GgmlType::f16 || info.type == io::GgmlType::bf16)
      return file_.get(name);
    return decoded(info);
  }

  // A quantized tensor decoded once to f32 (io/ggml_dequant.h), exactly as ggml decodes it. A stopgap
  // that makes quantized files run, at f32's memory and bandwidth: kernels that read the blocks
  // directly come next (issue 14).
  Tensor decoded(const io::GgufTensorInfo& info) {
    if (!io::ggml_type_decodable(info.type))
      fail("GGUF {}: tensor '{}' is {}, a type strata cannot decode yet (F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, "
           "Q5_1, Q4_K, Q5_K and Q6_K can be)",
           where(), info.name, io::ggml_type_name(info.type));
    const std::string key = "decoded:" + info.name;
    const std::vector<int64_t>& s = info.shape;
    Tensor out;
    switch (s.size()) {
      case 1: out = owned_.add(key, DType::f32, {s[0]}); break;
      case 2: out = owned_.add(key, DType::f32, {s[0], s[1]}); break;
      case 3: out = owned_.add(key, DType::f32, {s[0], s[1], s[2]}); break;
      default: out = owned_.add(key, DType::f32, {s[0], s[1], s[2], s[3]}); break;
    }
    io::dequantize(info.type, file_.bytes(info.name).data(), out.numel(), out.ptr<float>());
    return out;
  }
  Tensor tensor(int64_t layer, std::string_view part) { return global(layer_name(layer, part)); }
  void put(const std::string& hf_name, const Tensor& t) {
    if (!views_.emplace(hf_name, t).second) fail("GGUF {}: two tensors map to '{}'", where(), hf_name);
  }
  // The same data as one vector ([H, 1] or [G, n] become [H] and [G·n]).
  static Tensor flat(const Tensor& t) { return t.reshape({t.numel()}); }

  // ggml's A = -exp(A_log), back to the A_log the family reads: log(-A), in f32 (the model takes
  // -exp of it again; the round trip moves A by at most an ulp or two).
  Tensor a_log(int64_t layer, const std::string& hf_name) {
    const Tensor a = tensor(layer, "ssm_a");
    std::vector<float> values(static_cast<size_t>(a.numel()));
    convert_to_f32(a, values.data(), "ssm_a");
    Tensor out = owned_.add(hf_name, DType::f32, {a.numel()});
    for (size_t j = 0; j < values.size(); ++j) {
      if (!(values[j] < 0.0f))
        fail("GGUF {}: {}[{}] is {}; expected A = -exp(A_log) < 0", where(), layer_name(layer, "ssm_a"), j, values[j]);
      out.ptr<float>()[j] = std::log(-values[j]);
    }
    return out;
  }

  // llama.cpp's converter permutes the rows of each head of q and k (LlamaModel.permute: the head's
  // rows [half, 2] become [2, half]); undone here so the products run in Hugging Face's order.
  Tensor unpermuted(int64_t layer, std::string_view part, int64_t heads, const std::string& hf_name) {
    const Tensor w = tensor(layer, part);
    if (w.ndim != 2 || heads <= 0 || w.shape[0] % (2 * heads) != 0)
      fail("GGUF {}: {} of {} rows does not split into {} heads of pairs", where(), layer_name(layer, part),
           w.ndim == 2 ? w.shape[0] : -1, heads);
    const int64_t rows = w.shape[0], cols = w.shape[1], half = rows / heads / 2;
    const size_t row_bytes = static_cast<size_t>(cols) * dtype_size(w.dtype);
    Tensor out = owned_.add(hf_name, w.dtype, {rows, cols});
    const auto* src = static_cast<const char*>(w.data);
    auto* dst = static_cast<char*>(out.data);
    // ggml row (h, j, r) [j < half, r < 2] holds HF row (h, r, j).
    for (int64_t h = 0; h < heads; ++h)
      for (int64_t j = 0; j < half; ++j)
        for (int64_t r = 0; r < 2; ++r)
          std::memcpy(dst + static_cast<size_t>((h * 2 + r) * half + j) * row_bytes,
                      src + static_cast<size_t>((h * half + j) * 2 + r) * row_bytes, row_bytes);
    return out;
  }

  io::GgufFile file_;
  MemoryWeights owned_;
  std::map<std::string, Tensor, std::less<>> views_;
  std::set<std::string> used_;
  std::vector<std::string> names_;
};

}  // namespace

std::unique_ptr<Model> load_gguf_model(const std::filesystem::path& path) {
  io::GgufFile file = io::GgufFile::open(path);
  const json config = gguf_hf_config(file);
  ModelConfig model_config = model_config_from_json(config, path.string());
  const std::string identity = config.dump();
  return Model::from_weights(std::move(model_config), std::make_unique<GgufWeights>(std::move(file), config),
                             identity);
}

}  // namespace strata::model
