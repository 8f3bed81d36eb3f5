#include "strata/tokenizer/gguf_vocab.h"

#include <string>
#include <vector>

#include "strata/core/error.h"

namespace strata::tokenizer {

namespace {

// llama.cpp's token types (llama_token_type).
constexpr int64_t kControl = 3, kUserDefined = 4, kUnused = 5;

std::string where(const io::GgufFile& file) { return "GGUF " + file.path().string(); }

std::string required_model(const io::GgufFile& file) {
  const std::string model = file.get_string("tokenizer.ggml.model");
  if (model != "gpt2")
    fail("{}: tokenizer.ggml.model '{}' is not supported yet (strata reads byte-level BPE vocabularies, "
         "\"gpt2\")",
         where(file), model);
  return model;
}

}  // namespace

bool gguf_has_tokenizer(const io::GgufFile& file) { return file.find("tokenizer.ggml.model") != nullptr; }

Json gguf_tokenizer_json(const io::GgufFile& file) {
  required_model(file);
  const std::string pre = file.get_string_or("tokenizer.ggml.pre").value_or("default");
  if (pre != "gpt-2" && pre != "default" && pre != "mpt")
    fail("{}: tokenizer.ggml.pre '{}' is not supported yet (supported: gpt-2, default, mpt)", where(file), pre);
  const std::vector<std::string>& tokens = file.get_string_array("tokenizer.ggml.tokens");
  const std::vector<std::string>& merges = file.get_string_array("tokenizer.ggml.merges");
  std::vector<int64_t> types(tokens.size(), 1);
  if (file.find("tokenizer.ggml.token_type") != nullptr) {
    types = file.get_int_array("tokenizer.ggml.token_type");
    if (types.size() != tokens.size())
      fail("{}: tokenizer.ggml.token_type has {} entries for {} tokens", where(file), types.size(), tokens.size());
  }
  Json vocab = Json::object();
  Json added = Json::array();
  for (size_t id = 0; id < tokens.size(); ++id) {
    if (types[id] == kUnused) continue;  // fillers up to the embedding's rows
    if (vocab.contains(tokens[id]))
      fail("{}: token '{}' appears twice in tokenizer.ggml.tokens (ids {} and {})", where(file), tokens[id],
           vocab[tokens[id]].get<int64_t>(), id);
    vocab[tokens[id]] = id;
    if (types[id] == kControl || types[id] == kUserDefined)
      added.push_back({{"id", id}, {"content", tokens[id]}, {"single_word", false}, {"lstrip", false},
                       {"rstrip", false}, {"normalized", types[id] != kControl}, {"special", types[id] == kControl}});
  }
  const Json byte_level = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true},
                           {"use_regex", true}};
  Json post = byte_level;
  const std::optional<int64_t> bos = file.get_int_or("tokenizer.ggml.bos_token_id");
  if (file.get_bool_or("tokenizer.ggml.add_bos_token").value_or(false) && bos) {
    if (*bos < 0 || static_cast<size_t>(*bos) >= tokens.size())
      fail("{}: tokenizer.ggml.bos_token_id {} is outside the {} tokens", where(file), *bos, tokens.size());
    const std::string& b = tokens[static_cast<size_t>(*bos)];
    post = {{"type", "TemplateProcessing"},
            {"single", Json::array({{{"SpecialToken", {{"id", b}, {"type_id", 0}}}},
                                    {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}})},
            {"pair", Json::array({{{"SpecialToken", {{"id", b}, {"type_id", 0}}}},
                                  {{"Sequence", {{"id", "A"}, {"type_id", 0}}}},
                                  {{"SpecialToken", {{"id", b}, {"type_id", 1}}}},
                                  {{"Sequence", {{"id", "B"}, {"type_id", 1}}}}})},
            {"special_tokens", {{b, {{"id", b}, {"ids", Json::array({*bos})}, {"tokens", Json::array({b})}}}}}};
  }
  return {{"version", "1.0"},
          {"truncation", nullptr},
          {"padding", nullptr},
          {"added_tokens", added},
          {"normalizer", pre == "mpt" ? Json{{"type", "NFC"}} : Json(nullptr)},
          {"pre_tokenizer", byte_level},
          {"post_processor", post},
          {"decoder", byte_level},
          {"model",
           {{"type", "BPE"}, {"dropout", nullptr}, {"unk_token", nullptr}, {"continuing_subword_prefix", nullptr},
            {"end_of_word_suffix", nullptr}, {"fuse_unk", false}, {"byte_fallback", false}, {"ignore_merges", false},
            {"vocab", vocab}, {"merges", merges}}}};
}

Json gguf_tokenizer_config(const io::GgufFile& file) {
  const std::vector<std::string>& tokens = file.get_string_array("tokenizer.ggml.tokens");
  Json config = Json::object();
  for (const auto& [key, name] : {std::pair{"tokenizer.ggml.bos_token_id", "bos_token"},
                                  std::pair{"tokenizer.ggml.eos_token_id", "eos_token"}}) {
    const std::optional<int64_t> id = file.get_int_or(key);
    if (!id) continue;
    if (*id < 0 || static_cast<size_t>(*id) >= tokens.size())
      fail("{}: {} {} is outside the {} tokens", where(file), key, *id, tokens.size());
    config[name] = tokens[static_cast<size_t>(*id)];
  }
  config["add_bos_token"] = file.get_bool_or("tokenizer.ggml.add_bos_token").value_or(false);
  return config;
}

Tokenizer gguf_tokenizer(const io::GgufFile& file) {
  if (!gguf_has_tokenizer(file))
    fail("{}: the file has no vocabulary (no tokenizer.ggml.model); text commands need one", where(file));
  return Tokenizer::from_json(gguf_tokenizer_json(file), gguf_tokenizer_config(file), where(file));
}

}  // namespace strata::tokenizer
