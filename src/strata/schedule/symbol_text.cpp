#include "strata/schedule/symbol_text.h"

#include <fmt/format.h>

namespace strata::schedule {

namespace {
// Length of the UTF-8 sequence starting at text[i], or 1 if it is not a valid sequence.
size_t sequence_length(std::string_view text, size_t i) {
  const auto lead = static_cast<unsigned char>(text[i]);
  size_t length = lead < 0x80 ? 1 : (lead >> 5) == 0x6 ? 2 : (lead >> 4) == 0xe ? 3 : (lead >> 3) == 0x1e ? 4 : 1;
  if (i + length > text.size()) return 1;
  for (size_t k = 1; k < length; ++k)
    if ((static_cast<unsigned char>(text[i + k]) & 0xc0) != 0x80) return 1;
  return length;
}
}  // namespace

std::vector<std::string_view> code_points(std::string_view text) {
  std::vector<std::string_view> out;
  for (size_t i = 0; i < text.size();) {
    const size_t length = sequence_length(text, i);
    out.push_back(text.substr(i, length));
    i += length;
  }
  return out;
}

std::string quote_symbol(std::string_view cp) {
  if (cp.size() == 1) {
    const auto c = static_cast<unsigned char>(cp[0]);
    if (c == '\n') return "\\n";
    if (c == '\t') return "\\t";
    if (c == '\r') return "\\r";
    if (c < 0x20 || c >= 0x7f) return fmt::format("\\x{:02x}", c);
  }
  return std::string(cp);
}

}  // namespace strata::schedule
