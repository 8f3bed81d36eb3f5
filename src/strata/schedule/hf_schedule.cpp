#include "strata/schedule/hf_schedule.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <initializer_list>
#include <limits>
#include <optional>
#include <vector>

#include <fmt/format.h>

#include "strata/core/error.h"

namespace strata::schedule {

using nlohmann::json;

namespace {


// Typed field access with errors that name the field and the file.
class Fields {
 public:
  Fields(const json& object, std::string_view filename, std::string prefix = "")
      : object_(object), filename_(filename), prefix_(std::move(prefix)) {}

  // The first of `keys` present (and not null), if any.
  const json* find(std::initializer_list<const char*> keys, std::string* found = nullptr) const {
    for (const char* key : keys) {
      auto it = object_.find(key);
      if (it != object_.end() && !it->is_null()) {
        if (found) *found = key;
        return &*it;
      }
    }
    return nullptr;
  }

  std::optional<int64_t> optional_int(std::initializer_list<const char*> keys) const {
    std::string key;
    const json* v = find(keys, &key);
    if (!v) return std::nullopt;
    // Unsigned first: nlohmann counts an unsigned number as an integer too, and get<int64_t> would wrap
    // 2^64 - 1 to -1.
    std::optional<int64_t> value;
    if (v->is_number_unsigned()) {
      if (v->get<uint64_t>() <= static_cast<uint64_t>(kMaxConfigInteger)) value = static_cast<int64_t>(v->get<uint64_t>());
    } else if (v->is_number_integer()) {
      const int64_t i = v->get<int64_t>();
      if (i >= -kMaxConfigInteger && i <= kMaxConfigInteger) value = i;
    } else if (v->is_number_float()) {
      const double d = v->get<double>();
      if (!std::isfinite(d) || d != std::floor(d))
        fail("config {}: field '{}{}' is {}; expected an integer", filename_, prefix_, key, v->dump());
      if (std::fabs(d) <= static_cast<double>(kMaxConfigInteger)) value = static_cast<int64_t>(d);
    } else {
      fail("config {}: field '{}{}' is {}; expected an integer", filename_, prefix_, key, v->dump());
    }
    if (!value)
      fail("config {}: field '{}{}' is {}; expected an integer of magnitude at most {} (2^31 - 1)", filename_, prefix_,
           key, v->dump(), kMaxConfigInteger);
    return value;
  }

  int64_t required_int(std::initializer_list<const char*> keys, std::string_view why) const {
    if (auto v = optional_int(keys)) return *v;
    fail("config {}: missing field {}; expected an integer ({})", filename_, names(keys), why);
  }

  std::optional<std::string> optional_string(std::initializer_list<const char*> keys) const {
    std::string key;
    const json* v = find(keys, &key);
    if (!v) return std::nullopt;
    if (!v->is_string()) fail("config {}: field '{}{}' is {}; expected a string", filename_, prefix_, key, v->dump());
    return v->get<std::string>();
  }

  std::string names(std::initializer_list<const char*> keys) const {
    std::string out;
    for (const char* key : keys) out += fmt::format("{}'{}{}'", out.empty() ? "" : " or ", prefix_, key);
    return out;
  }

 private:
  const json& object_;
  std::string_view filename_;
  std::string prefix_;
};

char symbol_of_block_type(const json& entry, size_t index, std::string_view field, std::string_view filename) {
  if (entry.is_string()) {
    const std::string name = entry.get<std::string>();
    if (name == "mamba" || name == "linear_attention" || name == "M") return 'M';
    if (name == "attention" || name == "full_attention" || name == "*") return '*';
    if (name == "mlp" || name == "-") return '-';
    if (name == "moe" || name == "E") return 'E';
  }
  fail("config {}: {}[{}] is {}; expected \"mamba\" (or \"linear_attention\"), \"attention\" (or "
       "\"full_attention\"), \"mlp\" or \"moe\"",
       filename, field, index, entry.dump());
}

// A pattern string from either a pattern field or a list-of-block-types field.
std::optional<std::string> layout(const json& config, const char* pattern_field, const char* list_field,
                                  std::string_view filename) {
  const Fields fields(config, filename);
  if (auto pattern = fields.optional_string({pattern_field})) return pattern;
  auto it = config.find(list_field);
  if (it == config.end() || it->is_null()) return std::nullopt;
  if (!it->is_array()) fail("config {}: field '{}' is {}; expected a list of block types", filename, list_field,
                            it->dump().substr(0, 80));
  std::string pattern;
  for (size_t i = 0; i < it->size(); ++i) pattern += symbol_of_block_type((*it)[i], i, list_field, filename);
  return pattern;
}

void read_attention(const Fields& f, ModelDims& dims, std::string_view why) {
  dims.attention.n_heads = f.required_int({"num_attention_heads"}, why);
  dims.attention.n_kv_heads = f.required_int({"num_key_value_heads"}, why);
  dims.attention.head_dim = f.required_int({"head_dim", "attention_head_dim"}, why);
}

HfModel nemotron_h(const json& config, std::string_view filename) {
  const Fields f(config, filename);
  HfModel model;
  model.model_type = "nemotron_h";
  const std::optional<std::string> main = layout(config, "hybrid_override_pattern", "layers_block_type", filename);
  if (!main)
    fail("config {}: missing field 'hybrid_override_pattern' or 'layers_block_type'; expected the layer layout",
         filename);
  if (main->find('/') != std::string::npos)
    fail("config {}: 'hybrid_override_pattern' contains '/'; expected MTP layers in 'mtp_hybrid_override_pattern'",
         filename);
  if (auto n = f.optional_int({"num_hidden_layers"}); n && *n != static_cast<int64_t>(main->size()))
    fail("config {}: 'num_hidden_layers' is {} but the layer layout has {} layers; expected them to agree", filename,
         *n, main->size());

  std::string pattern = *main;
  const std::optional<std::string> mtp =
      layout(config, "mtp_hybrid_override_pattern", "mtp_layers_block_type", filename);
  const std::optional<int64_t> depths = f.optional_int({"num_nextn_predict_layers"});
  // transformers writes a default MTP layout into every nemotron_h config; with
  // num_nextn_predict_layers = 0 the model has no MTP depth and that layout is unused.
  if (mtp && !mtp->empty() && depths.value_or(1) != 0) {
    const int64_t n = depths.value_or(1);
    if (n < 1 || n > 64)
      fail("config {}: 'num_nextn_predict_layers' is {}; expected 0 to 64 with an MTP pattern", filename, n);
    for (int64_t d = 0; d < n; ++d) pattern += "/" + *mtp;
  } else if (depths && *depths > 0) {
    fail("config {}: 'num_nextn_predict_layers' is {} but there is no 'mtp_hybrid_override_pattern' or "
         "'mtp_layers_block_type'; expected the MTP layer layout",
         filename, *depths);
  }
  try {
    model.schedule = schedule_from_pattern(pattern);
  } catch (const Error& e) {
    fail("config {}: bad layer layout: {}", filename, e.what());
  }

  ModelDims& dims = model.dims;
  dims.hidden_size = f.required_int({"hidden_size"}, "the model width");
  dims.vocab_size = f.required_int({"vocab_size"}, "the vocabulary size");
  if (main->find('M') != std::string::npos) {
    const char* why = "the pattern has mamba layers";
    dims.mamba.n_heads = f.required_int({"mamba_num_heads"}, why);
    dims.mamba.head_dim = f.required_int({"mamba_head_dim"}, why);
    dims.mamba.state_size = f.required_int({"ssm_state_size"}, why);
    dims.mamba.n_groups = f.required_int({"n_groups", "mamba_n_groups"}, why);
    dims.mamba.conv_kernel = f.required_int({"conv_kernel", "mamba_d_conv"}, why);
    dims.mamba.chunk_size = f.optional_int({"chunk_size", "mamba_chunk_size"}).value_or(128);
  }
  if (pattern.find('*') != std::string::npos) read_attention(f, dims, "the pattern has attention layers");
  return model;
}

HfModel mamba2_hf(const json& config, std::string_view filename) {
  const Fields f(config, filename);
  HfModel model;
  model.model_type = "mamba2";
  const int64_t n_layers = f.required_int({"num_hidden_layers"}, "the number of layers");
  if (n_layers < 1 || n_layers > 100000)
    fail("config {}: 'num_hidden_layers' is {}; expected 1 to 100000", filename, n_layers);
  model.schedule = schedule_from_pattern(std::string(static_cast<size_t>(n_layers), 'M'));
  ModelDims& dims = model.dims;
  const char* why = "a mamba2 dimension";
  dims.hidden_size = f.required_int({"hidden_size"}, "the model width");
  dims.vocab_size = f.required_int({"vocab_size"}, "the vocabulary size");
  dims.mamba.n_heads = f.required_int({"num_heads"}, why);
  dims.mamba.head_dim = f.required_int({"head_dim"}, why);
  dims.mamba.state_size = f.required_int({"state_size"}, why);
  dims.mamba.n_groups = f.required_int({"n_groups"}, why);
  dims.mamba.conv_kernel = f.required_int({"conv_kernel"}, why);
  dims.mamba.chunk_size = f.optional_int({"chunk_size"}).value_or(256);
  return model;
}

// mamba_ssm's MambaConfig: ssm_cfg holds Mamba2 constructor overrides (defaults from mamba2.py),
// attn_layer_idx puts attention mixers at those layers, d_intermediate > 0 adds an MLP to every layer.
HfModel mamba2_ssm(const json& config, std::string_view filename) {
  const Fields f(config, filename);
  HfModel model;
  model.model_type = "mamba2";
  const int64_t n_layers = f.required_int({"n_layer"}, "the number of layers");
  if (n_layers < 1 || n_layers > 100000) fail("config {}: 'n_layer' is {}; expected 1 to 100000", filename, n_layers);
  const int64_t d_model = f.required_int({"d_model"}, "the model width");
  ModelDims& dims = model.dims;
  dims.hidden_size = d_model;
  const int64_t vocab = f.required_int({"vocab_size"}, "the vocabulary size");
  const int64_t multiple = f.optional_int({"pad_vocab_size_multiple"}).value_or(1);
  if (vocab < 1 || multiple < 1)
    fail("config {}: vocab_size {} / pad_vocab_size_multiple {}; expected both >= 1", filename, vocab, multiple);
  dims.vocab_size = (vocab + multiple - 1) / multiple * multiple;  // both <= 2^31 - 1: no overflow
  if (dims.vocab_size > kMaxConfigInteger)
    fail("config {}: vocab_size {} padded to a multiple of pad_vocab_size_multiple {} is {}; expected at most {}",
         filename, vocab, multiple, dims.vocab_size, kMaxConfigInteger);

  json empty = json::object();
  const json* ssm_cfg = f.find({"ssm_cfg"});
  if (ssm_cfg && !ssm_cfg->is_object())
    fail("config {}: field 'ssm_cfg' is {}; expected an object", filename, ssm_cfg->dump().substr(0, 80));
  const Fields ssm(ssm_cfg ? *ssm_cfg : empty, filename, "ssm_cfg.");
  if (auto layer = ssm.optional_string({"layer"}); layer && *layer != "Mamba2")
    fail("config {}: 'ssm_cfg.layer' is \"{}\"; only \"Mamba2\" is supported", filename, *layer);
  const int64_t expand = ssm.optional_int({"expand"}).value_or(2);
  dims.mamba.head_dim = ssm.optional_int({"headdim"}).value_or(64);
  dims.mamba.state_size = ssm.optional_int({"d_state"}).value_or(128);
  dims.mamba.n_groups = ssm.optional_int({"ngroups"}).value_or(1);
  dims.mamba.conv_kernel = ssm.optional_int({"d_conv"}).value_or(4);
  dims.mamba.chunk_size = ssm.optional_int({"chunk_size"}).value_or(256);
  if (expand < 1 || dims.mamba.head_dim < 1 || d_model < 1 || (expand * d_model) % dims.mamba.head_dim != 0)
    fail("config {}: expand ({}) x d_model ({}) must be a positive multiple of ssm_cfg.headdim ({})", filename,
         expand, d_model, dims.mamba.head_dim);
  dims.mamba.n_heads = expand * d_model / dims.mamba.head_dim;  // operands <= 2^31 - 1: no overflow

  std::vector<bool> attention(static_cast<size_t>(n_layers), false);
  if (const json* idx = f.find({"attn_layer_idx"})) {
    if (!idx->is_array()) fail("config {}: field 'attn_layer_idx' is {}; expected a list of layer indices", filename,
                               idx->dump().substr(0, 80));
    for (const json& i : *idx) {
      if (!i.is_number_integer() || i.get<int64_t>() < 0 || i.get<int64_t>() >= n_layers)
        fail("config {}: 'attn_layer_idx' entry {} is not a layer index in [0, {})", filename, i.dump(), n_layers);
      attention[static_cast<size_t>(i.get<int64_t>())] = true;
    }
  }
  const int64_t d_intermediate = f.optional_int({"d_intermediate"}).value_or(0);
  for (int64_t i = 0; i < n_layers; ++i) {
    LayerSpec layer = attention[static_cast<size_t>(i)] ? full_attention_layer(static_cast<int>(i))
                                                        : mamba2_layer(static_cast<int>(i));
    if (d_intermediate > 0) layer.ffn = FfnKind::mlp;
    model.schedule.layers.push_back(layer);
  }
  validate_schedule(model.schedule);
  if (std::find(attention.begin(), attention.end(), true) != attention.end()) {
    const json* attn_cfg = f.find({"attn_cfg"});
    if (!attn_cfg || !attn_cfg->is_object())
      fail("config {}: missing field 'attn_cfg' (an object); expected it because 'attn_layer_idx' is not empty",
           filename);
    const Fields attn(*attn_cfg, filename, "attn_cfg.");
    const int64_t heads = attn.required_int({"num_heads"}, "attn_layer_idx is not empty");
    if (heads < 1) fail("config {}: 'attn_cfg.num_heads' is {}; expected >= 1", filename, heads);
    dims.attention.n_heads = heads;
    dims.attention.n_kv_heads = attn.optional_int({"num_heads_kv"}).value_or(heads);
    dims.attention.head_dim = attn.optional_int({"head_dim"}).value_or(d_model / heads);
  }
  return model;
}

}  // namespace


namespace {

// Mamba2 dims under the mamba_* keys that Granite-4.0-H, Bamba and Falcon-H1 share (mamba_d_head may be
// "auto": the inner width mamba_expand · hidden split over the heads).
void read_mamba_prefixed(const Fields& f, const json& config, ModelDims& dims, std::string_view filename) {
  const char* why = "the model has Mamba2 layers";
  dims.mamba.n_heads = f.required_int({"mamba_n_heads"}, why);
  dims.mamba.state_size = f.required_int({"mamba_d_state"}, why);
  dims.mamba.n_groups = f.optional_int({"mamba_n_groups"}).value_or(1);
  dims.mamba.conv_kernel = f.optional_int({"mamba_d_conv"}).value_or(4);
  dims.mamba.chunk_size = f.optional_int({"mamba_chunk_size"}).value_or(256);
  // The inner width: Falcon-H1's mamba_d_ssm when set, else mamba_expand · hidden_size.
  const std::optional<int64_t> d_ssm = f.optional_int({"mamba_d_ssm"});
  const int64_t expand = f.optional_int({"mamba_expand"}).value_or(2);
  const int64_t inner = d_ssm ? *d_ssm : expand * dims.hidden_size;
  const std::string inner_text = d_ssm ? fmt::format("mamba_d_ssm {}", *d_ssm)
                                       : fmt::format("mamba_expand {} · hidden_size {}", expand, dims.hidden_size);
  if (inner <= 0) fail("config {}: the Mamba2 inner width ({}) must be positive", filename, inner_text);
  const auto head = config.find("mamba_d_head");
  if (head == config.end() || head->is_null() || (head->is_string() && head->get<std::string>() == "auto")) {
    if (dims.mamba.n_heads <= 0 || inner % dims.mamba.n_heads != 0)
      fail("config {}: {} does not split into 'mamba_n_heads' {} heads", filename, inner_text, dims.mamba.n_heads);
    dims.mamba.head_dim = inner / dims.mamba.n_heads;
  } else {
    dims.mamba.head_dim = f.required_int({"mamba_d_head"}, why);
    if (dims.mamba.head_dim * dims.mamba.n_heads != inner)
      fail("config {}: 'mamba_d_head' {} · 'mamba_n_heads' {} is not the inner width ({})", filename,
           dims.mamba.head_dim, dims.mamba.n_heads, inner_text);
  }
}

// Llama-style attention keys: num_attention_heads, num_key_value_heads (default: the same), and head_dim
// from its own key when the family reads one, else hidden_size / num_attention_heads.
void read_llama_attention(const Fields& f, ModelDims& dims, std::string_view why, bool head_dim_key,
                          std::string_view filename) {
  dims.attention.n_heads = f.required_int({"num_attention_heads"}, why);
  dims.attention.n_kv_heads = f.optional_int({"num_key_value_heads"}).value_or(dims.attention.n_heads);
  if (head_dim_key) {
    if (auto head_dim = f.optional_int({"head_dim"})) {
      dims.attention.head_dim = *head_dim;
      return;
    }
  }
  if (dims.attention.n_heads <= 0 || dims.hidden_size % dims.attention.n_heads != 0)
    fail("config {}: hidden_size {} is not divisible by 'num_attention_heads' {}", filename, dims.hidden_size,
         dims.attention.n_heads);
  dims.attention.head_dim = dims.hidden_size / dims.attention.n_heads;
}

// Every layer of these families is {mixer, FFN}: the mixer from its layer type, the FFN the same for all.
Schedule mixer_ffn_schedule(const std::string& mixers, FfnKind ffn) {
  Schedule schedule;
  for (size_t i = 0; i < mixers.size(); ++i) {
    LayerSpec layer;
    layer.index = static_cast<int>(i);
    layer.mixer = mixers[i] == 'M' ? MixerKind::mamba2 : MixerKind::attention;
    layer.ffn = ffn;
    layer.router = ffn == FfnKind::moe ? RouterMode::learned_top_k : RouterMode::none;
    schedule.layers.push_back(layer);
  }
  return schedule;
}

HfModel granite_hybrid(const json& config, std::string_view filename) {
  const Fields f(config, filename);
  HfModel model;
  model.model_type = "granitemoehybrid";
  std::optional<std::string> mixers = layout(config, "hybrid_override_pattern", "layer_types", filename);
  if (!mixers) mixers = layout(config, "hybrid_override_pattern", "layers_block_type", filename);
  if (!mixers) fail("config {}: missing field 'layer_types'; expected one \"mamba\" or \"attention\" per layer", filename);
  for (size_t i = 0; i < mixers->size(); ++i)
    if ((*mixers)[i] != 'M' && (*mixers)[i] != '*')
      fail("config {}: layer_types[{}] must be a mixer (\"mamba\" or \"attention\")", filename, i);
  const int64_t layers = f.required_int({"num_hidden_layers"}, "the number of layers");
  if (layers != static_cast<int64_t>(mixers->size()))
    fail("config {}: 'num_hidden_layers' is {} but 'layer_types' lists {} layers; expected them to agree", filename,
         layers, mixers->size());
  const int64_t experts = f.optional_int({"num_local_experts"}).value_or(0);
  if (experts < 0) fail("config {}: 'num_local_experts' is {}; expected >= 0", filename, experts);
  model.schedule = mixer_ffn_schedule(*mixers, experts > 0 ? FfnKind::moe : FfnKind::mlp);
  ModelDims& dims = model.dims;
  dims.hidden_size = f.required_int({"hidden_size"}, "the model width");
  dims.vocab_size = f.required_int({"vocab_size"}, "the vocabulary size");
  if (mixers->find('M') != std::string::npos) read_mamba_prefixed(f, config, dims, filename);
  // Granite's attention always splits the width over the heads (a head_dim key is not read).
  if (mixers->find('*') != std::string::npos)
    read_llama_attention(f, dims, "the model has attention layers", /*head_dim_key=*/false, filename);
  return model;
}

HfModel bamba(const json& config, std::string_view filename) {
  const Fields f(config, filename);
  HfModel model;
  model.model_type = "bamba";
  const int64_t layers = f.required_int({"num_hidden_layers"}, "the number of layers");
  if (layers < 1 || layers > 100000)
    fail("config {}: 'num_hidden_layers' is {}; expected 1 to 100000", filename, layers);
  std::string mixers(static_cast<size_t>(layers), 'M');
  const auto indices = config.find("attn_layer_indices");
  if (indices != config.end() && !indices->is_null()) {
    if (!indices->is_array()) fail("config {}: 'attn_layer_indices' must be a list of layer indices", filename);
    for (size_t i = 0; i < indices->size(); ++i) {
      const json& v = (*indices)[i];
      if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() >= layers)
        fail("config {}: attn_layer_indices[{}] is {}; expected a layer index in [0, {})", filename, i, v.dump(),
             layers);
      mixers[static_cast<size_t>(v.get<int64_t>())] = '*';
    }
  }
  model.schedule = mixer_ffn_schedule(mixers, FfnKind::mlp);
  ModelDims& dims = model.dims;
  dims.hidden_size = f.required_int({"hidden_size"}, "the model width");
  dims.vocab_size = f.required_int({"vocab_size"}, "the vocabulary size");
  if (mixers.find('M') != std::string::npos) read_mamba_prefixed(f, config, dims, filename);
  if (mixers.find('*') != std::string::npos)
    read_llama_attention(f, dims, "attn_layer_indices is not empty", /*head_dim_key=*/true, filename);
  return model;
}

// Falcon-H1: every layer runs attention and Mamba2 in parallel on the same normed input, then an MLP.
HfModel falcon_h1(const json& config, std::string_view filename) {
  const Fields f(config, filename);
  HfModel model;
  model.model_type = "falcon_h1";
  const int64_t layers = f.required_int({"num_hidden_layers"}, "the number of layers");
  if (layers < 1 || layers > 100000)
    fail("config {}: 'num_hidden_layers' is {}; expected 1 to 100000", filename, layers);
  for (int64_t i = 0; i < layers; ++i) {
    LayerSpec layer;
    layer.index = static_cast<int>(i);
    layer.mixer = MixerKind::attention_and_mamba2;
    layer.ffn = FfnKind::mlp;
    model.schedule.layers.push_back(layer);
  }
  ModelDims& dims = model.dims;
  dims.hidden_size = f.required_int({"hidden_size"}, "the model width");
  dims.vocab_size = f.required_int({"vocab_size"}, "the vocabulary size");
  read_mamba_prefixed(f, config, dims, filename);
  read_llama_attention(f, dims, "every Falcon-H1 layer has attention", /*head_dim_key=*/true, filename);
  return model;
}

// Zamba2: layers_block_type "mamba" | "hybrid"; a hybrid layer applies shared transformer block
// (its index among the hybrid layers mod num_mem_blocks) and feeds its output to its Mamba2 mixer.
HfModel zamba2(const json& config, std::string_view filename) {
  const Fields f(config, filename);
  HfModel model;
  model.model_type = "zamba2";
  const auto types = config.find("layers_block_type");
  if (types == config.end() || !types->is_array() || types->empty())
    fail("config {}: missing field 'layers_block_type'; expected a list of \"mamba\" or \"hybrid\" per layer", filename);
  const int64_t layers = f.required_int({"num_hidden_layers"}, "the number of layers");
  if (layers != static_cast<int64_t>(types->size()))
    fail("config {}: 'num_hidden_layers' is {} but 'layers_block_type' lists {} layers; expected them to agree",
         filename, layers, types->size());
  const int64_t blocks = f.optional_int({"num_mem_blocks"}).value_or(1);
  int hybrid = 0;
  for (size_t i = 0; i < types->size(); ++i) {
    const json& t = (*types)[i];
    LayerSpec layer;
    layer.index = static_cast<int>(i);
    if (t == "mamba" || t == "linear_attention") {  // transformers 5 writes linear_attention for Mamba2
      layer.mixer = MixerKind::mamba2;
    } else if (t == "hybrid") {
      if (blocks <= 0)
        fail("config {}: layers_block_type[{}] is \"hybrid\" but 'num_mem_blocks' is {}; expected at least 1 shared "
             "block", filename, i, blocks);
      layer.mixer = MixerKind::attention_and_mamba2;
      layer.shared_block = static_cast<int>(hybrid++ % blocks);
    } else {
      fail("config {}: layers_block_type[{}] is {}; expected \"mamba\" (or \"linear_attention\") or \"hybrid\"", filename, i, t.dump());
    }
    model.schedule.layers.push_back(layer);
  }
  ModelDims& dims = model.dims;
  dims.hidden_size = f.required_int({"hidden_size"}, "the model width");
  dims.vocab_size = f.required_int({"vocab_size"}, "the vocabulary size");
  const char* why = "the model has Mamba2 layers";
  dims.mamba.n_heads = f.required_int({"n_mamba_heads"}, why);
  dims.mamba.state_size = f.required_int({"mamba_d_state"}, why);
  dims.mamba.n_groups = f.optional_int({"mamba_ngroups"}).value_or(1);
  dims.mamba.conv_kernel = f.optional_int({"mamba_d_conv"}).value_or(4);
  dims.mamba.chunk_size = f.optional_int({"chunk_size"}).value_or(256);
  const int64_t expand = f.optional_int({"mamba_expand"}).value_or(2);
  if (dims.mamba.n_heads <= 0 || (expand * dims.hidden_size) % dims.mamba.n_heads != 0)
    fail("config {}: mamba_expand {} · hidden_size {} does not split into 'n_mamba_heads' {} heads", filename, expand,
         dims.hidden_size, dims.mamba.n_heads);
  dims.mamba.head_dim = expand * dims.hidden_size / dims.mamba.n_heads;
  if (auto head = f.optional_int({"mamba_headdim"}); head && *head != dims.mamba.head_dim)
    fail("config {}: 'mamba_headdim' is {} but mamba_expand · hidden_size / n_mamba_heads is {}", filename, *head,
         dims.mamba.head_dim);
  if (hybrid > 0) {
    // The shared attention reads concat(hidden, embeddings): 2·hidden wide, head_dim = 2·hidden / heads.
    dims.attention.n_heads = f.required_int({"num_attention_heads"}, "the model has hybrid layers");
    dims.attention.n_kv_heads = f.optional_int({"num_key_value_heads"}).value_or(dims.attention.n_heads);
    if (dims.attention.n_heads <= 0 || (2 * dims.hidden_size) % dims.attention.n_heads != 0)
      fail("config {}: 2 · hidden_size {} is not divisible by 'num_attention_heads' {}", filename, dims.hidden_size,
           dims.attention.n_heads);
    dims.attention.head_dim = 2 * dims.hidden_size / dims.attention.n_heads;
    if (auto head = f.optional_int({"attention_head_dim"}); head && *head != dims.attention.head_dim)
      fail("config {}: 'attention_head_dim' is {} but 2 · hidden_size / num_attention_heads is {}", filename, *head,
           dims.attention.head_dim);
  }
  return model;
}

HfModel validated(HfModel model, std::string_view filename) {
  try {
    validate_dims(model.schedule, model.dims);
  } catch (const Error& e) {
    fail("config {}: {}", filename, e.what());
  }
  return model;
}

void expect_object(const json& config, std::string_view filename) {
  if (!config.is_object()) fail("config {}: top level is {}; expected a JSON object", filename, config.type_name());
}

}  // namespace

HfModel nemotron_h_schedule(const json& config, std::string_view filename) {
  expect_object(config, filename);
  return validated(nemotron_h(config, filename), filename);
}

HfModel granite_hybrid_schedule(const json& config, std::string_view filename) {
  expect_object(config, filename);
  return validated(granite_hybrid(config, filename), filename);
}

HfModel bamba_schedule(const json& config, std::string_view filename) {
  expect_object(config, filename);
  return validated(bamba(config, filename), filename);
}

HfModel mamba2_schedule(const json& config, std::string_view filename) {
  expect_object(config, filename);
  // mamba_ssm's own config.json has no model_type and is recognised by d_model/n_layer.
  if (config.contains("d_model") || config.contains("n_layer")) return validated(mamba2_ssm(config, filename), filename);
  return validated(mamba2_hf(config, filename), filename);
}

HfModel falcon_h1_schedule(const json& config, std::string_view filename) {
  expect_object(config, filename);
  return validated(falcon_h1(config, filename), filename);
}

HfModel zamba2_schedule(const json& config, std::string_view filename) {
  expect_object(config, filename);
  return validated(zamba2(config, filename), filename);
}

}  // namespace strata::schedule
