#include "strata/tokenizer/post_processor.h"

namespace strata::tokenizer {
namespace {

int32_t id_of_pair(const Json& pair, const std::string& where) {
  // ["<s>", 0]
  if (!pair.is_array() || pair.size() != 2 || !pair[1].is_number_integer()) fail("{}: expected [\"token\", id]", where);
  return pair[1].get<int32_t>();
}

PostProcessor template_processing(const Json& spec, const std::string& where) {
  PostProcessor result;
  const Json& single = require_field(spec, "single", where);
  const Json& special_tokens = spec.contains("special_tokens") ? spec["special_tokens"] : Json::object();
  if (!single.is_array()) fail("{}.single: expected an array of template pieces", where);
  bool seen_sequence = false;
  for (size_t i = 0; i < single.size(); ++i) {
    const std::string piece_where = fmt::format("{}.single[{}]", where, i);
    const Json& piece = single[i];
    if (piece.is_object() && piece.contains("Sequence")) {
      if (seen_sequence) fail("{}: a single-sequence template may contain $A only once", piece_where);
      seen_sequence = true;
      continue;
    }
    if (!piece.is_object() || !piece.contains("SpecialToken")) {
      fail("{}: expected {{\"Sequence\": ...}} or {{\"SpecialToken\": ...}}", piece_where);
    }
    const std::string name = string_field(piece["SpecialToken"], "id", piece_where + ".SpecialToken");
    if (!special_tokens.is_object() || !special_tokens.contains(name)) {
      fail("{}: special token \"{}\" is not listed in {}.special_tokens", piece_where, name, where);
    }
    const Json& ids = require_field(special_tokens[name], "ids", fmt::format("{}.special_tokens[\"{}\"]", where, name));
    if (!ids.is_array()) fail("{}.special_tokens[\"{}\"].ids: expected an array of ids", where, name);
    for (const Json& id : ids) {
      if (!id.is_number_integer()) fail("{}.special_tokens[\"{}\"].ids: expected integers", where, name);
      (seen_sequence ? result.suffix : result.prefix).push_back(id.get<int32_t>());
    }
  }
  if (!seen_sequence) fail("{}.single: the template has no $A (Sequence) piece", where);
  return result;
}

}  // namespace

PostProcessor PostProcessor::from_json(const Json& spec, const std::string& where) {
  if (spec.is_null()) return {};
  const std::string type = type_field(spec, where);
  if (type == "ByteLevel") return {};
  if (type == "TemplateProcessing") return template_processing(spec, where);
  if (type == "RobertaProcessing" || type == "BertProcessing") {
    return {{id_of_pair(require_field(spec, "cls", where), where + ".cls")},
            {id_of_pair(require_field(spec, "sep", where), where + ".sep")}};
  }
  if (type == "Sequence") {
    // Each processor wraps the output of the previous one.
    PostProcessor result;
    const Json& items = require_field(spec, "processors", where);
    if (!items.is_array()) fail("{}.processors: expected an array", where);
    for (size_t i = 0; i < items.size(); ++i) {
      PostProcessor inner = from_json(items[i], fmt::format("{}.processors[{}]", where, i));
      result.prefix.insert(result.prefix.begin(), inner.prefix.begin(), inner.prefix.end());
      result.suffix.insert(result.suffix.end(), inner.suffix.begin(), inner.suffix.end());
    }
    return result;
  }
  fail("{}: unsupported post_processor type '{}' (supported: ByteLevel, TemplateProcessing, RobertaProcessing, "
       "BertProcessing, Sequence, null)",
       where, type);
}

}  // namespace strata::tokenizer
