// The Unicode tables NFC normalisation needs, generated from Python's unicodedata by make_nfc_table.py.
// Every array is sorted by its first field so lookups are binary searches. Hangul syllables are not
// listed: nfc.cpp handles them arithmetically.
#pragma once

#include <cstddef>
#include <cstdint>

namespace strata::tokenizer::nfc_data {

struct CombiningClassRange {
  char32_t first;
  char32_t last;
  uint8_t combining_class;
};

// A full (recursive) canonical decomposition: kDecompositionPool[offset .. offset + length).
struct Decomposition {
  char32_t code_point;
  uint16_t offset;
  uint8_t length;
};

// A primary composite: first + second compose to composite under NFC.
struct Composition {
  char32_t first;
  char32_t second;
  char32_t composite;
};

extern const char* const kUnicodeVersion;
extern const CombiningClassRange kCombiningClasses[];
extern const size_t kCombiningClassCount;
extern const Decomposition kDecompositions[];
extern const size_t kDecompositionCount;
extern const char32_t kDecompositionPool[];
extern const Composition kCompositions[];
extern const size_t kCompositionCount;

}  // namespace strata::tokenizer::nfc_data
