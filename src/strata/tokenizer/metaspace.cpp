#include "strata/tokenizer/metaspace.h"

#include "strata/tokenizer/utf8.h"

namespace strata::tokenizer {

Metaspace Metaspace::from_json(const Json& spec, const std::string& where) {
  Metaspace metaspace;
  const Json& replacement = require_field(spec, "replacement", where);
  if (!replacement.is_string())
    fail("{}.replacement: expected a one-character string, got {}", where, replacement.type_name());
  metaspace.replacement = replacement.get<std::string>();
  if (metaspace.replacement.empty() ||
      utf8_sequence_length(metaspace.replacement, 0) != metaspace.replacement.size()) {
    fail("{}.replacement: expected exactly one character, got \"{}\"", where, metaspace.replacement);
  }
  if (auto it = spec.find("prepend_scheme"); it != spec.end()) {
    const std::string scheme = it->is_string() ? it->get<std::string>() : "";
    if (scheme == "first") {
      metaspace.prepend_scheme = PrependScheme::First;
    } else if (scheme == "never") {
      metaspace.prepend_scheme = PrependScheme::Never;
    } else if (scheme == "always") {
      metaspace.prepend_scheme = PrependScheme::Always;
    } else {
      fail("{}.prepend_scheme: expected \"first\", \"never\" or \"always\", got {}", where, it->dump());
    }
  }
  // Files written before prepend_scheme existed say add_prefix_space; false means Never, and HF refuses
  // it next to any other scheme (a missing prepend_scheme counts as "always").
  if (!bool_field(spec, "add_prefix_space", true, where)) {
    if (metaspace.prepend_scheme != PrependScheme::Never) {
      fail("{}.add_prefix_space: false does not match prepend_scheme (\"never\" expected)", where);
    }
  }
  metaspace.split = bool_field(spec, "split", true, where);
  return metaspace;
}

void metaspace_pre_tokenize(const Metaspace& metaspace, const PrePiece& piece, std::vector<PrePiece>& out) {
  const std::string& mark = metaspace.replacement;
  std::string text;
  const bool prepend = !piece.text.empty() && piece.text.front() != ' ' &&
                       piece.text.compare(0, mark.size(), mark) != 0 &&
                       (metaspace.prepend_scheme == PrependScheme::Always ||
                        (metaspace.prepend_scheme == PrependScheme::First && piece.at_origin));
  if (prepend) text = mark;
  for (char c : piece.text) {
    if (c == ' ') {
      text += mark;
    } else {
      text.push_back(c);
    }
  }
  if (text.empty()) return;
  if (!metaspace.split) {
    out.push_back({std::move(text), piece.at_origin});
    return;
  }
  // MergedWithNext on each replacement: a piece starts at every replacement.
  size_t begin = 0;
  for (size_t at = text.find(mark); at != std::string::npos; at = text.find(mark, at + mark.size())) {
    if (at > begin) out.push_back({text.substr(begin, at - begin), piece.at_origin && begin == 0});
    begin = at;
  }
  out.push_back({text.substr(begin), piece.at_origin && begin == 0});
}

std::string metaspace_decode_token(const Metaspace& metaspace, std::string_view token, bool first) {
  const std::string& mark = metaspace.replacement;
  const bool drop = first && metaspace.prepend_scheme != PrependScheme::Never;
  std::string out;
  out.reserve(token.size());
  size_t previous = 0;
  for (size_t at = token.find(mark); at != std::string_view::npos; at = token.find(mark, previous)) {
    out.append(token.substr(previous, at - previous));
    if (!drop) out.push_back(' ');
    previous = at + mark.size();
  }
  out.append(token.substr(previous));
  return out;
}

}  // namespace strata::tokenizer
