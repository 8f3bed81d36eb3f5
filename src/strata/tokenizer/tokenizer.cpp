#include "strata/tokenizer/tokenizer.h"

#include <fstream>
#include <sstream>

#include "strata/io/json_depth.h"
#include "strata/tokenizer/utf8.h"

namespace strata::tokenizer {
namespace {

Json read_json(const std::filesystem::path& path, const char* what) {
  std::ifstream file(path, std::ios::binary);
  if (!file) fail("cannot open {} '{}'", what, path.string());
  std::stringstream buffer;
  buffer << file.rdbuf();
  const std::string text = buffer.str();
  // The components are copied out of the tree (recursively): bound its depth before parsing.
  if (auto too_deep = io::json_depth_error(text, path.string())) fail("{} {}", what, *too_deep);
  try {
    return Json::parse(text);
  } catch (const Json::parse_error& error) {
    fail("{} '{}' is not valid JSON: {}", what, path.string(), error.what());
  }
}

AddedToken parse_added_token(const Json& spec, size_t defined_tokens, const std::string& where) {
  AddedToken token;
  token.content = string_field(spec, "content", where);
  token.id = token_id_field(require_field(spec, "id", where), defined_tokens, where, token.content);
  if (token.content.empty()) fail("{}.content: an added token cannot be empty", where);
  if (!is_valid_utf8(token.content)) fail("{}.content: not valid UTF-8", where);
  token.single_word = bool_field(spec, "single_word", false, where);
  token.lstrip = bool_field(spec, "lstrip", false, where);
  token.rstrip = bool_field(spec, "rstrip", false, where);
  token.special = bool_field(spec, "special", false, where);
  token.normalized = bool_field(spec, "normalized", !token.special, where);
  return token;
}

// tokenizer_config.json writes special tokens as "<s>" or {"content": "<s>", ...}.
std::optional<std::string> config_token(const Json& config, const char* key, const std::string& where) {
  if (!config.is_object()) return std::nullopt;
  auto it = config.find(key);
  if (it == config.end() || it->is_null()) return std::nullopt;
  if (it->is_string()) return it->get<std::string>();
  if (it->is_object()) return string_field(*it, "content", where + "." + key);
  fail("{}.{}: expected a string or {{\"content\": ...}}", where, key);
}

}  // namespace

Tokenizer Tokenizer::load(const std::filesystem::path& tokenizer_json, const std::filesystem::path& config_path) {
  const Json tokenizer = read_json(tokenizer_json, "tokenizer.json");
  std::filesystem::path config_file = config_path;
  if (config_file.empty()) {
    const auto sibling = tokenizer_json.parent_path() / "tokenizer_config.json";
    if (std::filesystem::exists(sibling)) config_file = sibling;
  }
  const Json config = config_file.empty() ? Json(nullptr) : read_json(config_file, "tokenizer_config.json");
  Tokenizer result = from_json(tokenizer, config, "tokenizer.json '" + tokenizer_json.string() + "'");
  if (!config_file.empty() && config.is_object()) {
    // Re-check names against the file for a precise message (from_json used a generic source).
    for (const char* key : {"bos_token", "eos_token"}) {
      auto token = config_token(config, key, "tokenizer_config.json '" + config_file.string() + "'");
      if (token && !result.token_to_id(*token)) {
        fail("tokenizer_config.json '{}': {} \"{}\" is not in the vocabulary", config_file.string(), key, *token);
      }
    }
  }
  return result;
}

Tokenizer Tokenizer::from_json(const Json& json, const Json& config, const std::string& source) {
  if (!json.is_object()) fail("{}: expected a JSON object at the top level", source);
  Tokenizer t;
  const Json added = json.value("added_tokens", Json::array());
  if (!added.is_array()) fail("{}: added_tokens: expected an array", source);
  t.model_ = BpeModel::from_json(require_field(json, "model", source), source + ": model", added.size());
  const size_t defined_tokens = json.at("model").at("vocab").size() + added.size();  // from_json checked both
  t.normalizer_ = Normalizer::from_json(json.value("normalizer", Json(nullptr)), source + ": normalizer");
  t.pre_tokenizer_ = PreTokenizer::from_json(json.value("pre_tokenizer", Json(nullptr)), source + ": pre_tokenizer");
  t.post_processor_ = PostProcessor::from_json(json.value("post_processor", Json(nullptr)), source + ": post_processor");
  t.decoder_ = Decoder::from_json(json.value("decoder", Json(nullptr)), source + ": decoder");

  std::vector<AddedToken> raw, normalized;
  std::vector<std::string> raw_patterns, normalized_patterns;
  for (size_t i = 0; i < added.size(); ++i) {
    AddedToken token = parse_added_token(added[i], defined_tokens, fmt::format("{}: added_tokens[{}]", source, i));
    if (t.added_by_content_.contains(token.content)) continue;  // HF keeps the first
    t.added_by_content_.emplace(token.content, token.id);
    if (t.added_index_by_id_.size() <= static_cast<size_t>(token.id)) t.added_index_by_id_.resize(token.id + 1, -1);
    t.added_index_by_id_[token.id] = static_cast<int32_t>(t.added_tokens_.size());
    t.added_tokens_.push_back(token);
    // A normalized token matches, and (tokenizers >= 0.23) decodes as, its normalized content.
    t.added_decode_text_.push_back(token.normalized ? t.normalizer_.apply(token.content) : token.content);
    if (token.normalized) {
      normalized_patterns.push_back(t.added_decode_text_.back());
      normalized.push_back(std::move(token));
    } else {
      raw_patterns.push_back(token.content);
      raw.push_back(std::move(token));
    }
  }
  t.raw_matcher_ = AddedTokenMatcher(std::move(raw), raw_patterns);
  t.normalized_matcher_ = AddedTokenMatcher(std::move(normalized), normalized_patterns);

  const std::string config_where = "tokenizer_config.json";
  for (const char* key : {"bos_token", "eos_token"}) {
    if (auto token = config_token(config, key, config_where)) {
      auto id = t.token_to_id(*token);
      if (!id) fail("{}: {} \"{}\" is not in the vocabulary of {}", config_where, key, *token, source);
      (std::string_view(key) == "bos_token" ? t.bos_id_ : t.eos_id_) = id;
    }
  }
  // Without a config, the post-processor's template is the best statement of BOS / EOS.
  if (!t.bos_id_ && !t.post_processor_.prefix.empty()) t.bos_id_ = t.post_processor_.prefix.front();
  if (!t.eos_id_ && !t.post_processor_.suffix.empty()) t.eos_id_ = t.post_processor_.suffix.back();
  return t;
}

void Tokenizer::encode_segment(std::string_view text, bool at_origin, std::vector<int32_t>& ids) const {
  std::vector<std::string> pieces;
  pre_tokenizer_.split(text, at_origin, pieces);
  for (const std::string& piece : pieces) model_->encode_piece(piece, ids);
}

std::vector<int32_t> Tokenizer::encode(std::string_view input, bool add_special_tokens) const {
  const std::string text = utf8_lossy(input);
  std::vector<int32_t> ids;
  ids.reserve(text.size() / 3 + 4);
  if (add_special_tokens) ids = post_processor_.prefix;

  // As HF's AddedVocabulary::extract_and_normalize: raw added tokens split the text, each other part is
  // normalized on its own (so Prepend applies after every special token), then normalized added tokens
  // split it. Only a part that starts the input counts as "at the origin" for the pre-tokenizer.
  auto encode_normalized = [&](std::string_view raw, bool raw_at_origin) {
    const std::string normalized = normalizer_.apply(raw);
    if (normalized_matcher_.empty()) {
      encode_segment(normalized, raw_at_origin, ids);
      return;
    }
    for (const TextSegment& s : normalized_matcher_.split(normalized)) {
      if (s.id >= 0) {
        ids.push_back(s.id);
      } else {
        encode_segment(std::string_view(normalized).substr(s.begin, s.end - s.begin),
                       raw_at_origin && s.begin == 0, ids);
      }
    }
  };
  if (raw_matcher_.empty()) {
    encode_normalized(text, true);
  } else {
    for (const TextSegment& s : raw_matcher_.split(text)) {
      if (s.id >= 0) {
        ids.push_back(s.id);
      } else {
        encode_normalized(std::string_view(text).substr(s.begin, s.end - s.begin), s.begin == 0);
      }
    }
  }
  if (add_special_tokens) ids.insert(ids.end(), post_processor_.suffix.begin(), post_processor_.suffix.end());
  return ids;
}

std::optional<std::string_view> Tokenizer::token_for_decode(int32_t id, bool skip_special_tokens) const {
  std::string_view token;
  if (id >= 0 && static_cast<size_t>(id) < added_index_by_id_.size() && added_index_by_id_[id] >= 0) {
    token = added_decode_text_[added_index_by_id_[id]];
  } else if (const std::string* model_token = model_->id_to_token(id)) {
    token = *model_token;
  } else {
    return std::nullopt;
  }
  if (skip_special_tokens) {
    // HF skips by text: a model token spelled like a special added token is skipped too, a special
    // token whose normalized form differs from its content is not.
    if (auto it = added_by_content_.find(token); it != added_by_content_.end() && is_special(it->second)) {
      return std::nullopt;
    }
  }
  return token;
}

std::string Tokenizer::decode(std::span<const int32_t> ids, bool skip_special_tokens) const {
  std::vector<std::string> tokens;
  tokens.reserve(ids.size());
  for (int32_t id : ids) {
    if (auto token = token_for_decode(id, skip_special_tokens)) tokens.emplace_back(*token);
  }
  return decoder_.decode(std::move(tokens));
}

std::optional<int32_t> Tokenizer::token_to_id(std::string_view token) const {
  if (auto it = added_by_content_.find(token); it != added_by_content_.end()) return it->second;
  return model_->token_to_id(token);
}

std::optional<std::string> Tokenizer::id_to_token(int32_t id) const {
  if (id >= 0 && static_cast<size_t>(id) < added_index_by_id_.size() && added_index_by_id_[id] >= 0) {
    return added_tokens_[added_index_by_id_[id]].content;
  }
  if (const std::string* token = model_->id_to_token(id)) return *token;
  return std::nullopt;
}

size_t Tokenizer::vocab_size() const { return std::max(model_->id_count(), added_index_by_id_.size()); }

bool Tokenizer::is_special(int32_t id) const {
  return id >= 0 && static_cast<size_t>(id) < added_index_by_id_.size() && added_index_by_id_[id] >= 0 &&
         added_tokens_[added_index_by_id_[id]].special;
}

}  // namespace strata::tokenizer
