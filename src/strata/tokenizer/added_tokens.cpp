#include "strata/tokenizer/added_tokens.h"

#include "strata/tokenizer/regex.h"
#include "strata/tokenizer/utf8.h"

namespace strata::tokenizer {
namespace {

// Unicode White_Space, which is what HF's \s (Rust regex) means for lstrip / rstrip.
bool is_white_space(char32_t c) {
  return (c >= 0x9 && c <= 0xD) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) ||
         c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

size_t previous_char_start(std::string_view text, size_t pos) {
  do {
    --pos;
  } while (pos > 0 && (static_cast<uint8_t>(text[pos]) & 0xC0) == 0x80);
  return pos;
}

// HF's \w test for single_word tokens (letters, digits, underscore, ...).
bool is_word_char(std::string_view ch) {
  static const Regex word(R"(\w)", "added token single_word check");
  bool found = false;
  word.for_each_match(ch, [&](size_t, size_t) { found = true; });
  return found;
}

}  // namespace

AddedTokenMatcher::AddedTokenMatcher(std::vector<AddedToken> tokens, const std::vector<std::string>& patterns)
    : tokens_(std::move(tokens)) {
  trie_.emplace_back();
  for (size_t i = 0; i < tokens_.size(); ++i) {
    if (patterns[i].empty()) continue;
    int32_t node = 0;
    for (char c : patterns[i]) {
      int32_t next = child(node, static_cast<uint8_t>(c));
      if (next < 0) {
        next = static_cast<int32_t>(trie_.size());
        trie_[node].children.emplace_back(static_cast<uint8_t>(c), next);
        trie_.emplace_back();
      }
      node = next;
    }
    if (trie_[node].token < 0) trie_[node].token = static_cast<int32_t>(i);  // first of duplicates wins
  }
}

int32_t AddedTokenMatcher::child(int32_t node, uint8_t byte) const {
  for (const auto& [b, next] : trie_[node].children) {
    if (b == byte) return next;
  }
  return -1;
}

std::vector<TextSegment> AddedTokenMatcher::split(std::string_view text) const {
  std::vector<TextSegment> segments;
  if (text.empty()) return segments;
  size_t start_offset = 0;  // end of the last emitted segment
  size_t search = 0;        // where the matcher resumes (after the last match, before any rstrip)
  while (search < text.size() && !empty()) {
    // Leftmost-longest: the first position where any token matches, and the longest one there.
    size_t match_begin = text.size(), match_end = 0;
    int32_t match_token = -1;
    for (size_t begin = search; begin < text.size() && match_token < 0; ++begin) {
      int32_t node = 0;
      for (size_t pos = begin; pos < text.size(); ++pos) {
        node = child(node, static_cast<uint8_t>(text[pos]));
        if (node < 0) break;
        if (trie_[node].token >= 0) {
          match_begin = begin;
          match_end = pos + 1;
          match_token = trie_[node].token;
        }
      }
    }
    if (match_token < 0) break;
    search = match_end;
    const AddedToken& token = tokens_[match_token];
    size_t begin = match_begin, end = match_end;
    if (token.single_word) {
      const bool word_before = begin > 0 && is_word_char(text.substr(previous_char_start(text, begin),
                                                                      begin - previous_char_start(text, begin)));
      const bool word_after =
          end < text.size() && is_word_char(text.substr(end, std::max<size_t>(1, utf8_sequence_length(text, end))));
      if (word_before || word_after) continue;
    }
    if (token.lstrip) {
      size_t new_begin = begin;
      while (new_begin > 0) {
        const size_t previous = previous_char_start(text, new_begin);
        size_t p = previous;
        if (!is_white_space(next_code_point(text, p))) break;
        new_begin = previous;
      }
      begin = std::max(new_begin, start_offset);
    }
    if (token.rstrip) {
      while (end < text.size()) {
        size_t p = end;
        if (!is_white_space(next_code_point(text, p))) break;
        end = p;
      }
    }
    begin = std::max(begin, start_offset);  // HF would overlap here; only reachable via odd rstrip tokens
    if (start_offset < begin) segments.push_back({start_offset, begin, -1});
    segments.push_back({begin, end, token.id});
    start_offset = end;
    search = std::max(search, end);
  }
  if (start_offset < text.size()) segments.push_back({start_offset, text.size(), -1});
  return segments;
}

}  // namespace strata::tokenizer
