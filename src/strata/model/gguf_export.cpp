#include "strata/model/gguf_export.h"

#include <cmath>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "strata/core/convert.h"
#include "strata/core/error.h"
#include "strata/io/config_json.h"
#include "strata/io/ggml_quantize.h"
#include "strata/io/gguf_writer.h"
#include "strata/io/json_depth.h"
#include "strata/io/safetensors_model.h"
#include "strata/model/families/family.h"
#include "strata/model/model_config.h"

namespace strata::model {

namespace {

using nlohmann::json;

class Exporter {
 public:
  Exporter(const std::filesystem::path& dir, io::GgmlType matrix_type)
      : dir_(dir), weights_(io::SafetensorsModel::open(dir)), matrix_type_(matrix_type) {}

  // The checkpoint tensor as f32 values (row-major) and its row-major shape.
  std::vector<float> values(const std::string& name, std::vector<int64_t>& shape) const {
    const Tensor t = weights_.get(name);
    shape.assign(t.shape.begin(), t.shape.begin() + t.ndim);
    std::vector<float> v(static_cast<size_t>(t.numel()));
    convert_to_f32(t, v.data(), name.c_str());
    return v;
  }
  bool has(const std::string& name) const { return weights_.has(name); }

  // Adds one tensor: `shape` row-major (ggml's ne is it reversed); F32 when keep_f32, else the matrix type
  // (F16 when the rows are not whole blocks of it).
  void add(const std::string& gguf_name, const std::vector<float>& v, std::vector<int64_t> shape, bool keep_f32) {
    std::vector<int64_t> ne(shape.rbegin(), shape.rend());
    io::GgmlType type = keep_f32 || shape.size() < 2 ? io::GgmlType::f32 : matrix_type_;
    if (type != io::GgmlType::f32) {
      if (ne[0] % io::ggml_block_elements(type) != 0) {
        type = io::GgmlType::f16;
        ++summary.fallbacks;
      } else {
        ++summary.quantized;
      }
    }
    std::vector<std::byte> bytes = io::quantize(type, v.data(), static_cast<int64_t>(v.size()));
    summary.bytes += bytes.size();
    ++summary.tensors;
    writer.add_tensor(gguf_name, type, std::move(ne), std::move(bytes));
  }
  void copy(const std::string& hf_name, const std::string& gguf_name, bool keep_f32) {
    std::vector<int64_t> shape;
    const std::vector<float> v = values(hf_name, shape);
    add(gguf_name, v, shape, keep_f32);
  }

  std::filesystem::path dir_;
  io::SafetensorsModel weights_;
  io::GgmlType matrix_type_;
  io::GgufWriter writer;
  GgufExportSummary summary;
};

// LlamaModel.permute: each head's rows [2, half] become [half, 2] (undone by gguf_model.cpp).
std::vector<float> permuted(const std::vector<float>& w, int64_t rows, int64_t cols, int64_t heads) {
  std::vector<float> out(w.size());
  const int64_t half = rows / heads / 2;
  for (int64_t h = 0; h < heads; ++h)
    for (int64_t j = 0; j < half; ++j)
      for (int64_t r = 0; r < 2; ++r)
        std::memcpy(&out[static_cast<size_t>(((h * half + j) * 2 + r) * cols)],
                    &w[static_cast<size_t>((h * 2 + r) * half + j) * static_cast<size_t>(cols)],
                    static_cast<size_t>(cols) * sizeof(float));
  return out;
}

void add_vocabulary(const std::filesystem::path& dir, const json& config, int64_t vocab_rows, io::GgufWriter& w) {
  const auto path = dir / "tokenizer.json";
  if (!std::filesystem::exists(path)) return;
  std::ifstream in(path, std::ios::binary);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  io::check_json_depth(text, path.string());
  const json tj = json::parse(text, nullptr, false);
  if (tj.is_discarded() || !tj.is_object() || !tj.contains("model") || !tj["model"].is_object())
    fail("{}: not a tokenizer.json (expected a JSON object with a \"model\")", path.string());
  const json& model = tj.at("model");
  const json pre = tj.value("pre_tokenizer", json(nullptr));
  if (model.value("type", "") != "BPE" || !pre.is_object() || pre.value("type", "") != "ByteLevel")
    fail("{}: only byte-level BPE tokenizers (model BPE, pre_tokenizer ByteLevel) can be written into a GGUF "
         "file yet",
         path.string());
  std::vector<std::string> tokens(static_cast<size_t>(vocab_rows));
  std::vector<int32_t> types(static_cast<size_t>(vocab_rows), 1);  // 1 normal
  std::vector<bool> filled(static_cast<size_t>(vocab_rows), false);
  for (const auto& [token, id] : model.at("vocab").items()) {
    const int64_t i = id.get<int64_t>();
    if (i < 0 || i >= vocab_rows) fail("{}: token id {} is outside the model's {} embedding rows", path.string(), i, vocab_rows);
    tokens[static_cast<size_t>(i)] = token;
    filled[static_cast<size_t>(i)] = true;
  }
  for (const json& added : tj.value("added_tokens", json::array())) {
    const int64_t i = added.at("id").get<int64_t>();
    if (i < 0 || i >= vocab_rows) fail("{}: added token id {} is outside the model's {} embedding rows", path.string(), i, vocab_rows);
    tokens[static_cast<size_t>(i)] = added.at("content").get<std::string>();
    types[static_cast<size_t>(i)] = added.value("special", false) ? 3 : 4;  // control / user-defined
    filled[static_cast<size_t>(i)] = true;
  }
  for (size_t i = 0; i < tokens.size(); ++i)
    if (!filled[i]) {
      tokens[i] = fmt::format("[PAD{}]", i);
      types[i] = 5;  // unused
    }
  std::vector<std::string> merges;
  for (const json& m : model.at("merges"))
    merges.push_back(m.is_string() ? m.get<std::string>() : m.at(0).get<std::string>() + " " + m.at(1).get<std::string>());
  w.add_string("tokenizer.ggml.model", "gpt2");
  w.add_string("tokenizer.ggml.pre", tj.value("normalizer", json(nullptr)).is_object() ? "mpt" : "gpt-2");
  w.add_string_array("tokenizer.ggml.tokens", tokens);
  w.add_i32_array("tokenizer.ggml.token_type", types);
  w.add_string_array("tokenizer.ggml.merges", merges);
  for (const auto& [key, field] : {std::pair{"tokenizer.ggml.bos_token_id", "bos_token_id"},
                                   std::pair{"tokenizer.ggml.eos_token_id", "eos_token_id"},
                                   std::pair{"tokenizer.ggml.padding_token_id", "pad_token_id"}})
    if (config.contains(field) && config[field].is_number_integer())
      w.add_u32(key, static_cast<uint32_t>(config[field].get<int64_t>()));
  // A TemplateProcessing post-processor that starts with a special token: BOS is added on encode.
  const json post = tj.value("post_processor", json(nullptr));
  w.add_bool("tokenizer.ggml.add_bos_token", post.is_object() && post.value("type", "") == "TemplateProcessing");
}

}  // namespace

GgufExportSummary export_gguf(const std::filesystem::path& hf_dir, const std::filesystem::path& out,
                              io::GgmlType matrix_type) {
  if (!io::ggml_type_writable(matrix_type))
    fail("quantize: --type {} is not supported yet (f32, f16, bf16, q8_0)", io::ggml_type_name(matrix_type));
  const ModelConfig c = load_model_config(hf_dir);
  const std::string model_type(c.family->model_type);
  if (model_type != "mamba2" && model_type != "nemotron_h")
    fail("quantize: '{}' is a {} checkpoint; GGUF files are written for mamba2 and nemotron_h checkpoints so far",
         hf_dir.string(), model_type);
  const json config = io::read_config_json(hf_dir / "config.json");
  Exporter e(hf_dir, matrix_type);
  const auto& mamba = c.dims.mamba;
  const auto& attention = c.dims.attention;
  const int64_t layers = c.schedule.main_layer_count(), D = c.dims.hidden_size, E = mamba.inner_size();
  std::string pattern;
  for (int64_t i = 0; i < layers; ++i) {
    const std::string p = fmt::format("backbone.layers.{}.mixer.", i);
    pattern += e.has(p + "in_proj.weight") ? 'M' : e.has(p + "q_proj.weight") ? '*' : e.has(p + "gate.weight") ? 'E' : '-';
  }
  const bool moe = pattern.find('E') != std::string::npos;
  const std::string arch = model_type == "mamba2" ? "mamba2" : (moe ? "nemotron_h_moe" : "nemotron_h");
  io::GgufWriter& w = e.writer;
  w.add_string("general.architecture", arch);
  w.add_u32("general.quantization_version", 2);
  // llama_ftype: what llama.cpp reports the file as (ALL_F32 0, MOSTLY_F16 1, MOSTLY_Q8_0 7, MOSTLY_BF16 32).
  const uint32_t file_type = matrix_type == io::GgmlType::f16    ? 1
                             : matrix_type == io::GgmlType::q8_0 ? 7
                             : matrix_type == io::GgmlType::bf16 ? 32
                                                                 : 0;
  w.add_u32("general.file_type", file_type);
  w.add_string("general.name", hf_dir.filename().string());
  const auto u32 = [](int64_t v) { return static_cast<uint32_t>(v); };
  w.add_u32(arch + ".block_count", u32(layers));
  w.add_u32(arch + ".embedding_length", u32(D));
  w.add_u32(arch + ".context_length", u32(config.value("max_position_embeddings", int64_t{1} << 20)));
  w.add_f32(arch + ".attention.layer_norm_rms_epsilon", c.norm_eps);
  w.add_u32(arch + ".ssm.conv_kernel", u32(mamba.conv_kernel));
  w.add_u32(arch + ".ssm.inner_size", u32(E));
  w.add_u32(arch + ".ssm.state_size", u32(mamba.state_size));
  w.add_u32(arch + ".ssm.time_step_rank", u32(mamba.n_heads));
  w.add_u32(arch + ".ssm.group_count", u32(mamba.n_groups));
  if (arch == "mamba2") {
    w.add_u32(arch + ".feed_forward_length", 0);
    w.add_u32(arch + ".attention.head_count", 0);
  } else {
    std::vector<int32_t> kv, ff;
    for (char k : pattern) {
      kv.push_back(k == '*' ? static_cast<int32_t>(attention.n_kv_heads) : 0);
      ff.push_back(k == '-' ? static_cast<int32_t>(c.intermediate_size)
                            : k == 'E' ? static_cast<int32_t>(c.moe.intermediate_size) : 0);
    }
    w.add_u32(arch + ".attention.head_count", u32(attention.n_heads));
    w.add_i32_array(arch + ".attention.head_count_kv", kv);
    w.add_i32_array(arch + ".feed_forward_length", ff);
    w.add_u32(arch + ".attention.key_length", u32(attention.head_dim));
    w.add_u32(arch + ".attention.value_length", u32(attention.head_dim));
    w.add_u32(arch + ".vocab_size", u32(c.dims.vocab_size));
    if (moe) {
      w.add_u32(arch + ".expert_count", u32(c.moe.n_routed_experts));
      w.add_u32(arch + ".expert_used_count", u32(c.moe.top_k));
      w.add_u32(arch + ".expert_feed_forward_length", u32(c.moe.intermediate_size));
      w.add_u32(arch + ".expert_shared_feed_forward_length", u32(c.moe.shared_intermediate_size));
      w.add_u32(arch + ".expert_shared_count", c.moe.shared_intermediate_size > 0 ? 1 : 0);
      w.add_bool(arch + ".expert_weights_norm", c.moe.norm_topk_prob);
      w.add_f32(arch + ".expert_weights_scale", c.moe.routed_scaling_factor);
      w.add_u32(arch + ".expert_group_count", u32(c.moe.n_group));
      w.add_u32(arch + ".expert_group_used_count", u32(c.moe.topk_group));
      if (c.moe.latent_size > 0) fail("quantize: latent MoE projections cannot be written into GGUF yet");
    }
  }
  if (c.dt_min != 0.0f || !std::isinf(c.dt_max))
    fail("quantize: '{}' clamps dt to time_step_limit [{}, {}], which GGUF cannot record (llama.cpp ignores it)",
         hf_dir.string(), c.dt_min, c.dt_max);
  add_vocabulary(hf_dir, config, c.dims.vocab_size, w);

  const std::string embeddings = e.has("backbone.embeddings.weight") ? "backbone.embeddings.weight" : "backbone.embedding.weight";
  e.copy(embeddings, "token_embd.weight", false);
  e.copy("backbone.norm_f.weight", "output_norm.weight", true);
  if (!c.tie_word_embeddings) e.copy("lm_head.weight", "output.weight", false);
  for (int64_t i = 0; i < layers; ++i) {
    const std::string hf = fmt::format("backbone.layers.{}.", i), m = hf + "mixer.", b = fmt::format("blk.{}.", i);
    e.copy(hf + "norm.weight", b + "attn_norm.weight", true);
    std::vector<int64_t> shape;
    switch (pattern[static_cast<size_t>(i)]) {
      case 'M': {
        e.copy(m + "in_proj.weight", b + "ssm_in.weight", false);
        if (e.has(m + "in_proj.bias")) e.copy(m + "in_proj.bias", b + "ssm_in.bias", true);
        std::vector<float> conv = e.values(m + "conv1d.weight", shape);
        e.add(b + "ssm_conv1d.weight", conv, {shape[0], shape[2]}, true);
        if (e.has(m + "conv1d.bias")) e.copy(m + "conv1d.bias", b + "ssm_conv1d.bias", true);
        e.copy(m + "dt_bias", b + "ssm_dt.bias", true);
        std::vector<float> a = e.values(m + "A_log", shape);
        for (float& v : a) v = -std::exp(v);
        e.add(b + "ssm_a", a, {shape[0], 1}, true);
        const std::vector<float> d = e.values(m + "D", shape);
        e.add(b + "ssm_d", d, {shape[0], 1}, true);
        const std::vector<float> norm = e.values(m + "norm.weight", shape);
        e.add(b + "ssm_norm.weight", norm, {mamba.n_groups, E / mamba.n_groups}, true);
        e.copy(m + "out_proj.weight", b + "ssm_out.weight", false);
        if (e.has(m + "out_proj.bias")) e.copy(m + "out_proj.bias", b + "ssm_out.bias", true);
        break;
      }
      case '*': {
        std::vector<float> q = e.values(m + "q_proj.weight", shape);
        e.add(b + "attn_q.weight", permuted(q, shape[0], shape[1], attention.n_heads), shape, false);
        std::vector<float> k = e.values(m + "k_proj.weight", shape);
        e.add(b + "attn_k.weight", permuted(k, shape[0], shape[1], attention.n_kv_heads), shape, false);
        e.copy(m + "v_proj.weight", b + "attn_v.weight", false);
        e.copy(m + "o_proj.weight", b + "attn_output.weight", false);
        break;
      }
      case '-':
        e.copy(m + "up_proj.weight", b + "ffn_up.weight", false);
        e.copy(m + "down_proj.weight", b + "ffn_down.weight", false);
        break;
      default: {  // 'E'
        e.copy(m + "gate.weight", b + "ffn_gate_inp.weight", true);
        if (e.has(m + "gate.e_score_correction_bias")) e.copy(m + "gate.e_score_correction_bias", b + "exp_probs_b.bias", true);
        for (const char* part : {"up_proj", "down_proj"}) {
          std::vector<float> stacked;
          std::vector<int64_t> one;
          for (int64_t x = 0; x < c.moe.n_routed_experts; ++x) {
            const std::vector<float> v = e.values(fmt::format("{}experts.{}.{}.weight", m, x, part), one);
            stacked.insert(stacked.end(), v.begin(), v.end());
          }
          e.add(b + (std::string(part) == "up_proj" ? "ffn_up_exps.weight" : "ffn_down_exps.weight"), stacked,
                {c.moe.n_routed_experts, one[0], one[1]}, false);
        }
        if (e.has(m + "shared_experts.up_proj.weight")) {
          e.copy(m + "shared_experts.up_proj.weight", b + "ffn_up_shexp.weight", false);
          e.copy(m + "shared_experts.down_proj.weight", b + "ffn_down_shexp.weight", false);
        }
        break;
      }
    }
  }
  if (moe && pattern.find('-') != std::string::npos)
    e.summary.llama_cpp_caveat =
        "llama.cpp's nemotron_h_moe loader expects every FFN layer to be MoE; this model also has dense MLP "
        "layers, so llama.cpp cannot load the file (strata can)";
  w.write(out);
  return e.summary;
}

}  // namespace strata::model
