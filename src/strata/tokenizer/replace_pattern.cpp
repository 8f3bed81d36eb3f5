#include "strata/tokenizer/replace_pattern.h"

#include "strata/tokenizer/utf8.h"

namespace strata::tokenizer {

ReplacePattern ReplacePattern::from_json(const Json& spec, const std::string& where) {
  ReplacePattern replace;
  const Json& pattern = require_field(spec, "pattern", where);
  if (pattern.is_object() && pattern.size() == 1 && pattern.contains("String") &&
      pattern["String"].is_string()) {
    replace.literal_ = pattern["String"].get<std::string>();
    // HF would match the empty string between every two characters; no tokenizer does that on purpose.
    if (replace.literal_.empty()) fail("{}.pattern.String: an empty pattern is not supported", where);
    replace.single_character_ = utf8_sequence_length(replace.literal_, 0) == replace.literal_.size();
  } else if (pattern.is_object() && pattern.size() == 1 && pattern.contains("Regex") &&
             pattern["Regex"].is_string()) {
    replace.regex_.emplace(pattern["Regex"].get<std::string>(), where + ".pattern.Regex");
  } else {
    fail("{}.pattern: expected {{\"String\": \"...\"}} or {{\"Regex\": \"...\"}}", where);
  }
  replace.content_ = string_field(spec, "content", where);
  return replace;
}

std::string ReplacePattern::apply(std::string_view text) const {
  std::string out;
  out.reserve(text.size() + 8);
  size_t previous = 0;
  if (regex_) {
    regex_->for_each_match(text, [&](size_t begin, size_t end) {
      out.append(text.substr(previous, begin - previous));
      out.append(content_);
      previous = end;
    });
  } else {
    for (size_t at = text.find(literal_); at != std::string_view::npos; at = text.find(literal_, previous)) {
      out.append(text.substr(previous, at - previous));
      out.append(content_);
      previous = at + literal_.size();
    }
  }
  out.append(text.substr(previous));
  return out;
}

}  // namespace strata::tokenizer
