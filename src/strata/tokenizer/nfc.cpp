#include "strata/tokenizer/nfc.h"

#include <algorithm>
#include <tuple>
#include <vector>

#include "strata/tokenizer/nfc_table.h"
#include "strata/tokenizer/utf8.h"

namespace strata::tokenizer {
namespace {

using namespace nfc_data;

// Hangul syllables decompose into leading consonant + vowel (+ trailing consonant) by arithmetic.
constexpr char32_t kSyllableBase = 0xAC00, kLeadBase = 0x1100, kVowelBase = 0x1161, kTrailBase = 0x11A7;
constexpr char32_t kLeadCount = 19, kVowelCount = 21, kTrailCount = 28;
constexpr char32_t kSyllableCount = kLeadCount * kVowelCount * kTrailCount;

int combining_class(char32_t cp) {
  if (cp < 0x300) return 0;
  const CombiningClassRange* end = kCombiningClasses + kCombiningClassCount;
  const CombiningClassRange* it =
      std::upper_bound(kCombiningClasses, end, cp, [](char32_t c, const CombiningClassRange& r) { return c < r.first; });
  if (it == kCombiningClasses) return 0;
  --it;
  return cp <= it->last ? it->combining_class : 0;
}

const Decomposition* find_decomposition(char32_t cp) {
  const Decomposition* end = kDecompositions + kDecompositionCount;
  const Decomposition* it =
      std::lower_bound(kDecompositions, end, cp, [](const Decomposition& d, char32_t c) { return d.code_point < c; });
  return it != end && it->code_point == cp ? it : nullptr;
}

bool is_composition_second(char32_t cp) {
  if (cp >= kVowelBase && cp < kVowelBase + kVowelCount) return true;
  if (cp > kTrailBase && cp < kTrailBase + kTrailCount) return true;
  if (cp < 0x300) return false;
  // The table is sorted by first; seconds are few, so a linear scan would do, but cache in a sorted list.
  static const std::vector<char32_t> seconds = [] {
    std::vector<char32_t> s;
    for (size_t i = 0; i < kCompositionCount; ++i) s.push_back(kCompositions[i].second);
    std::sort(s.begin(), s.end());
    s.erase(std::unique(s.begin(), s.end()), s.end());
    return s;
  }();
  return std::binary_search(seconds.begin(), seconds.end(), cp);
}

// True when the character can never change under NFC, whatever surrounds it.
bool is_stable(char32_t cp) {
  if (cp < 0x300) return true;  // make_nfc_table.py checks no composition has a second below U+0300
  if (cp >= kSyllableBase && cp < kSyllableBase + kSyllableCount) return true;  // trailing jamo are caught
  return combining_class(cp) == 0 && find_decomposition(cp) == nullptr && !is_composition_second(cp);
}

void decompose(char32_t cp, std::vector<char32_t>& out) {
  if (cp >= kSyllableBase && cp < kSyllableBase + kSyllableCount) {
    const char32_t index = cp - kSyllableBase;
    out.push_back(kLeadBase + index / (kVowelCount * kTrailCount));
    out.push_back(kVowelBase + (index % (kVowelCount * kTrailCount)) / kTrailCount);
    if (index % kTrailCount != 0) out.push_back(kTrailBase + index % kTrailCount);
    return;
  }
  if (const Decomposition* d = find_decomposition(cp)) {
    out.insert(out.end(), kDecompositionPool + d->offset, kDecompositionPool + d->offset + d->length);
  } else {
    out.push_back(cp);
  }
}

// The primary composite of first + second, or 0.
char32_t compose(char32_t first, char32_t second) {
  if (first >= kLeadBase && first < kLeadBase + kLeadCount && second >= kVowelBase &&
      second < kVowelBase + kVowelCount) {
    return kSyllableBase + ((first - kLeadBase) * kVowelCount + (second - kVowelBase)) * kTrailCount;
  }
  if (first >= kSyllableBase && first < kSyllableBase + kSyllableCount && (first - kSyllableBase) % kTrailCount == 0 &&
      second > kTrailBase && second < kTrailBase + kTrailCount) {
    return first + (second - kTrailBase);
  }
  const Composition* end = kCompositions + kCompositionCount;
  const Composition* it = std::lower_bound(kCompositions, end, std::pair{first, second},
                                           [](const Composition& c, const std::pair<char32_t, char32_t>& key) {
                                             return c.first != key.first ? c.first < key.first : c.second < key.second;
                                           });
  return it != end && it->first == first && it->second == second ? it->composite : 0;
}

}  // namespace

std::string nfc_normalize(std::string_view text) {
  size_t pos = 0;
  bool stable = true;
  while (pos < text.size() && stable) {
    if (static_cast<uint8_t>(text[pos]) < 0x80) {
      ++pos;
      continue;
    }
    stable = is_stable(next_code_point(text, pos));
  }
  if (stable) return std::string(text);

  // 1. Full canonical decomposition.
  std::vector<char32_t> chars;
  chars.reserve(text.size());
  for (pos = 0; pos < text.size();) decompose(next_code_point(text, pos), chars);
  // 2. Canonical ordering: stable sort of each run of non-starters by combining class.
  std::vector<int> classes(chars.size());
  for (size_t i = 0; i < chars.size(); ++i) classes[i] = combining_class(chars[i]);
  for (size_t i = 0; i < chars.size();) {
    if (classes[i] == 0) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < chars.size() && classes[j] != 0) ++j;
    std::vector<std::pair<int, char32_t>> run;
    for (size_t k = i; k < j; ++k) run.emplace_back(classes[k], chars[k]);
    std::stable_sort(run.begin(), run.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    for (size_t k = i; k < j; ++k) std::tie(classes[k], chars[k]) = run[k - i];
    i = j;
  }
  // 3. Canonical composition: a character joins the last starter unless something in between blocks
  // it (a starter, or a mark of the same or higher class). last_class -1: nothing since the starter.
  std::vector<char32_t> composed;
  composed.reserve(chars.size());
  long starter = -1;
  int last_class = -1;
  for (size_t i = 0; i < chars.size(); ++i) {
    const int cls = classes[i];
    if (starter >= 0 && (last_class == -1 || last_class < cls)) {
      if (const char32_t c = compose(composed[starter], chars[i])) {
        composed[starter] = c;
        continue;
      }
    }
    composed.push_back(chars[i]);
    if (cls == 0) {
      starter = static_cast<long>(composed.size()) - 1;
      last_class = -1;
    } else {
      last_class = cls;
    }
  }
  std::string out;
  out.reserve(text.size());
  for (char32_t c : composed) append_utf8(out, c);
  return out;
}

const char* nfc_unicode_version() { return nfc_data::kUnicodeVersion; }

}  // namespace strata::tokenizer
