// A compiled PCRE2 pattern (UTF + Unicode properties, JIT when available) for the pre-tokenizers'
// split patterns, which are written for Oniguruma / Rust regex: \p{L}, \p{N}, \s, (?i:...), (?!\S).
// Thread-safe: matching allocates its own match data.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace strata::tokenizer {

class Regex {
 public:
  // Throws strata::Error naming `where` (e.g. "tokenizer.json: pre_tokenizer.pattern") on a bad pattern.
  Regex(const std::string& pattern, const std::string& where);
  // A literal string pattern (Split's {"String": ...}): matched byte for byte.
  static Regex literal(const std::string& text, const std::string& where);

  // Calls on_match(begin, end) for each non-overlapping match, left to right, over VALID UTF-8 text.
  // After an empty match the search resumes one character later, as Oniguruma's iterator does.
  void for_each_match(std::string_view text, const std::function<void(size_t, size_t)>& on_match) const;

  const std::string& pattern() const { return pattern_; }

 private:
  Regex() = default;
  std::string pattern_;
  std::shared_ptr<void> code_;  // pcre2_code_8*, freed with pcre2_code_free_8
};

}  // namespace strata::tokenizer
