#include "strata/tokenizer/utf8.h"

#include <cstdint>

namespace strata::tokenizer {
namespace {

// The valid range of the second byte depends on the lead byte (Unicode Table 3-7): this is what
// rules out overlong forms, surrogates and code points above U+10FFFF.
struct LeadInfo {
  int length;  // 0: not a lead byte
  uint8_t second_low;
  uint8_t second_high;
};

LeadInfo lead_info(uint8_t lead) {
  if (lead < 0x80) return {1, 0, 0};
  if (lead >= 0xC2 && lead <= 0xDF) return {2, 0x80, 0xBF};
  if (lead == 0xE0) return {3, 0xA0, 0xBF};
  if (lead == 0xED) return {3, 0x80, 0x9F};
  if (lead >= 0xE1 && lead <= 0xEF) return {3, 0x80, 0xBF};
  if (lead == 0xF0) return {4, 0x90, 0xBF};
  if (lead >= 0xF1 && lead <= 0xF3) return {4, 0x80, 0xBF};
  if (lead == 0xF4) return {4, 0x80, 0x8F};
  return {0, 0, 0};
}

// Number of bytes from pos that form a valid sequence or a valid-so-far prefix of one (>= 1 when the
// lead byte is valid); sets `complete` when the whole sequence is present.
size_t valid_run(std::string_view text, size_t pos, bool& complete) {
  const LeadInfo info = lead_info(static_cast<uint8_t>(text[pos]));
  complete = false;
  if (info.length == 0) return 0;
  if (info.length == 1) {
    complete = true;
    return 1;
  }
  size_t n = 1;
  for (; n < static_cast<size_t>(info.length); ++n) {
    if (pos + n >= text.size()) return n;
    const uint8_t byte = static_cast<uint8_t>(text[pos + n]);
    const uint8_t low = n == 1 ? info.second_low : 0x80;
    const uint8_t high = n == 1 ? info.second_high : 0xBF;
    if (byte < low || byte > high) return n;
  }
  complete = true;
  return n;
}

}  // namespace

size_t utf8_sequence_length(std::string_view text, size_t pos) {
  bool complete = false;
  const size_t n = valid_run(text, pos, complete);
  return complete ? n : 0;
}

bool is_valid_utf8(std::string_view text) {
  size_t pos = 0;
  while (pos < text.size()) {
    if (static_cast<uint8_t>(text[pos]) < 0x80) {
      ++pos;
      continue;
    }
    const size_t n = utf8_sequence_length(text, pos);
    if (n == 0) return false;
    pos += n;
  }
  return true;
}

std::string utf8_lossy(std::string_view bytes) {
  if (is_valid_utf8(bytes)) return std::string(bytes);
  std::string out;
  out.reserve(bytes.size() + 8);
  size_t pos = 0;
  while (pos < bytes.size()) {
    bool complete = false;
    const size_t n = valid_run(bytes, pos, complete);
    if (complete) {
      out.append(bytes.substr(pos, n));
      pos += n;
    } else {
      out.append("\xEF\xBF\xBD");
      pos += n == 0 ? 1 : n;  // the maximal subpart: a valid prefix, or one bad byte
    }
  }
  return out;
}

size_t utf8_emittable_prefix(std::string_view bytes) {
  // Only the last (up to 3) bytes can be an unfinished character; look for its lead byte.
  const size_t size = bytes.size();
  for (size_t back = 1; back <= 3 && back <= size; ++back) {
    const size_t pos = size - back;
    const uint8_t byte = static_cast<uint8_t>(bytes[pos]);
    if ((byte & 0xC0) == 0x80) continue;  // a continuation byte: the lead is further back
    bool complete = false;
    const size_t n = valid_run(bytes, pos, complete);
    // Unfinished but still valid up to the end: hold it back.
    if (!complete && n == back) return pos;
    return size;
  }
  return size;
}

char32_t next_code_point(std::string_view text, size_t& pos) {
  const uint8_t lead = static_cast<uint8_t>(text[pos]);
  if (lead < 0x80) {
    ++pos;
    return lead;
  }
  int length = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2;
  char32_t cp = lead & (0x7F >> length);
  for (int i = 1; i < length; ++i) cp = (cp << 6) | (static_cast<uint8_t>(text[pos + i]) & 0x3F);
  pos += length;
  return cp;
}

void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

}  // namespace strata::tokenizer
