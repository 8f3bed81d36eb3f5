#include "strata/schedule/pattern.h"

#include <algorithm>
#include <vector>

#include "strata/schedule/symbol_text.h"

namespace strata::schedule {

bool is_layer_symbol(char c) { return kLayerSymbols.find(c) != std::string_view::npos; }

void validate_pattern(std::string_view pattern, std::string_view name) {
  for (std::string_view cp : code_points(pattern)) {
    if (cp.size() != 1 || !is_layer_symbol(cp[0]))
      fail("In {} pattern, '{}' is not a valid layer symbol. Valid symbols are: {}", name, quote_symbol(cp),
           kValidSetText);
  }
}

namespace {
// Python's str.split(sep) with an explicit separator: empty fields are kept.
std::vector<std::string_view> split_keep_empty(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  for (;;) {
    const size_t at = text.find(separator, start);
    if (at == std::string_view::npos) {
      parts.push_back(text.substr(start));
      return parts;
    }
    parts.push_back(text.substr(start, at - start));
    start = at + 1;
  }
}

std::optional<std::string> none_if_empty(std::string_view s) {
  if (s.empty()) return std::nullopt;
  return std::string(s);
}
}  // namespace

ParsedPattern parse_pattern(std::optional<std::string_view> pattern) {
  if (!pattern) return {};
  const std::vector<std::string_view> parts = split_keep_empty(*pattern, kMtpSeparator);
  if (parts.size() == 1) {
    validate_pattern(parts[0], "main");
    return {std::string(parts[0]), std::nullopt, 0};
  }
  const std::string_view main = parts[0];
  if (!main.empty()) validate_pattern(main, "main");

  const std::vector<std::string_view> mtp_parts(parts.begin() + 1, parts.end());
  if (std::all_of(mtp_parts.begin(), mtp_parts.end(), [](std::string_view p) { return p.empty(); }))
    return {none_if_empty(main), std::nullopt, 0};

  const std::string_view mtp = mtp_parts[0];
  for (size_t i = 1; i < mtp_parts.size(); ++i) {
    if (mtp_parts[i] != mtp)
      fail("All MTP patterns must be identical. Pattern 1 is '{}', but pattern {} is '{}'. Full pattern: '{}'",
           mtp, i + 1, mtp_parts[i], *pattern);
  }
  validate_pattern(mtp, "MTP");
  return {none_if_empty(main), std::string(mtp), static_cast<int>(mtp_parts.size())};
}

LayerMaps layer_maps(std::string_view layer_types) {
  LayerMaps maps;
  int index = 0;
  for (std::string_view cp : code_points(layer_types)) {
    std::map<int, int>* map = nullptr;
    if (cp.size() == 1) {
      switch (cp[0]) {
        case kAttention: map = &maps.attention; break;
        case kMamba: map = &maps.mamba; break;
        case kMlp: map = &maps.mlp; break;
        case kMoe: map = &maps.moe; break;
        default: break;
      }
    }
    if (!map)
      fail("layer {} has unknown layer symbol '{}' (expected one of {})", index, quote_symbol(cp),
           kValidSetText);
    const int local = static_cast<int>(map->size());
    (*map)[index] = local;
    ++index;
  }
  return maps;
}

namespace {
void add_counts(LayerCounts& counts, std::string_view pattern, int64_t times) {
  for (char c : pattern) {
    switch (c) {
      case kMamba: counts.mamba += times; break;
      case kAttention: counts.attention += times; break;
      case kMlp: counts.mlp += times; break;
      case kMoe: counts.moe += times; break;
      default: break;  // parse_pattern has validated every symbol
    }
  }
}
}  // namespace

LayerCounts layer_counts(std::optional<std::string_view> pattern) {
  const ParsedPattern parsed = parse_pattern(pattern);
  LayerCounts counts;
  if (parsed.main) add_counts(counts, *parsed.main, 1);
  if (parsed.mtp) add_counts(counts, *parsed.mtp, parsed.mtp_depths);
  return counts;
}

}  // namespace strata::schedule
