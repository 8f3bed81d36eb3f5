#include "strata/tokenizer/pre_tokenizer.h"

#include <algorithm>

#include "strata/tokenizer/byte_level.h"

namespace strata::tokenizer {

const char* const kGpt2SplitPattern = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

namespace {

SplitBehavior parse_behavior(const std::string& name, const std::string& where) {
  if (name == "Removed") return SplitBehavior::Removed;
  if (name == "Isolated") return SplitBehavior::Isolated;
  if (name == "MergedWithPrevious") return SplitBehavior::MergedWithPrevious;
  if (name == "MergedWithNext") return SplitBehavior::MergedWithNext;
  if (name == "Contiguous") return SplitBehavior::Contiguous;
  fail("{}.behavior: unknown split behavior '{}' (expected Removed, Isolated, MergedWithPrevious, "
       "MergedWithNext or Contiguous)",
       where, name);
}

struct Region {
  size_t begin, end;
  bool flag;  // before folding: is a match; after: should be removed
};

// The regions of `text`: alternating non-matches and matches covering all of it (Pattern::find_matches).
std::vector<Region> find_regions(const Regex& pattern, std::string_view text, bool invert) {
  std::vector<Region> regions;
  size_t previous = 0;
  pattern.for_each_match(text, [&](size_t begin, size_t end) {
    if (begin != previous) regions.push_back({previous, begin, invert});
    regions.push_back({begin, end, !invert});
    previous = end;
  });
  if (previous != text.size()) regions.push_back({previous, text.size(), invert});
  return regions;
}

// Applies the delimiter behavior: which regions stay separate, merge, or go (SplitDelimiterBehavior).
std::vector<Region> fold(const std::vector<Region>& regions, SplitBehavior behavior) {
  std::vector<Region> out;
  bool previous_match = false;
  switch (behavior) {
    case SplitBehavior::Isolated:
      for (const Region& r : regions) out.push_back({r.begin, r.end, false});
      break;
    case SplitBehavior::Removed:
      out = regions;
      break;
    case SplitBehavior::Contiguous:
      for (const Region& r : regions) {
        if (r.flag == previous_match && !out.empty()) {
          out.back().end = r.end;
        } else {
          out.push_back({r.begin, r.end, false});
        }
        previous_match = r.flag;
      }
      break;
    case SplitBehavior::MergedWithPrevious:
      for (const Region& r : regions) {
        if (r.flag && !previous_match && !out.empty()) {
          out.back().end = r.end;
        } else {
          out.push_back({r.begin, r.end, false});
        }
        previous_match = r.flag;
      }
      break;
    case SplitBehavior::MergedWithNext:
      for (auto it = regions.rbegin(); it != regions.rend(); ++it) {
        if (it->flag && !previous_match && !out.empty()) {
          out.back().begin = it->begin;
        } else {
          out.push_back({it->begin, it->end, false});
        }
        previous_match = it->flag;
      }
      std::reverse(out.begin(), out.end());
      break;
  }
  return out;
}

// Appends the kept regions of `piece`; only one that starts where the piece starts stays at the origin.
void split_by(const Regex& pattern, SplitBehavior behavior, bool invert, const PrePiece& piece,
              std::vector<PrePiece>& out) {
  const std::string_view text = piece.text;
  if (text.empty()) return;
  for (const Region& r : fold(find_regions(pattern, text, invert), behavior)) {
    if (!r.flag && r.end > r.begin) {
      out.push_back({std::string(text.substr(r.begin, r.end - r.begin)), piece.at_origin && r.begin == 0});
    }
  }
}

}  // namespace

PreTokenizer PreTokenizer::from_json(const Json& spec, const std::string& where) {
  PreTokenizer pre_tokenizer;
  if (!spec.is_null()) pre_tokenizer.add(spec, where);
  return pre_tokenizer;
}

void PreTokenizer::add(const Json& spec, const std::string& where) {
  const std::string type = type_field(spec, where);
  Step step;
  if (type == "Sequence") {
    const Json& items = require_field(spec, "pretokenizers", where);
    if (!items.is_array()) fail("{}.pretokenizers: expected an array", where);
    for (size_t i = 0; i < items.size(); ++i) add(items[i], fmt::format("{}.pretokenizers[{}]", where, i));
    return;
  }
  if (type == "ByteLevel") {
    step.kind = Step::Kind::ByteLevel;
    step.add_prefix_space = bool_field(spec, "add_prefix_space", true, where);
    if (bool_field(spec, "use_regex", true, where)) step.pattern.emplace(kGpt2SplitPattern, where);
  } else if (type == "Split") {
    const Json& pattern = require_field(spec, "pattern", where);
    if (pattern.is_object() && pattern.contains("Regex") && pattern["Regex"].is_string()) {
      step.pattern.emplace(pattern["Regex"].get<std::string>(), where + ".pattern.Regex");
    } else if (pattern.is_object() && pattern.contains("String") && pattern["String"].is_string()) {
      step.pattern.emplace(Regex::literal(pattern["String"].get<std::string>(), where + ".pattern.String"));
    } else {
      fail("{}.pattern: expected {{\"Regex\": \"...\"}} or {{\"String\": \"...\"}}", where);
    }
    step.behavior = parse_behavior(string_field(spec, "behavior", where), where);
    step.invert = bool_field(spec, "invert", false, where);
  } else if (type == "Digits") {
    // HF splits on char::is_numeric (categories Nd, Nl, No): one piece per digit, or per run.
    step.pattern.emplace(R"(\p{N})", where);
    step.behavior = bool_field(spec, "individual_digits", false, where) ? SplitBehavior::Isolated
                                                                       : SplitBehavior::Contiguous;
  } else if (type == "Metaspace") {
    step.kind = Step::Kind::Metaspace;
    step.metaspace = Metaspace::from_json(spec, where);
  } else {
    fail("{}: unsupported pre_tokenizer type '{}' (supported: ByteLevel, Split, Digits, Metaspace, Sequence, null)",
         where, type);
  }
  steps_.push_back(std::move(step));
}

void PreTokenizer::apply(const Step& step, const PrePiece& piece, std::vector<PrePiece>& out) {
  switch (step.kind) {
    case Step::Kind::Split:
      split_by(*step.pattern, step.behavior, step.invert, piece, out);
      return;
    case Step::Kind::Metaspace:
      if (!piece.text.empty()) metaspace_pre_tokenize(step.metaspace, piece, out);
      return;
    case Step::Kind::ByteLevel:
      break;
  }
  PrePiece spaced{std::string(), piece.at_origin};
  if (step.add_prefix_space && (piece.text.empty() || piece.text.front() != ' ')) spaced.text.push_back(' ');
  spaced.text.append(piece.text);
  std::vector<PrePiece> parts;
  if (step.pattern) {
    split_by(*step.pattern, SplitBehavior::Isolated, false, spaced, parts);
  } else if (!spaced.text.empty()) {
    parts.push_back(std::move(spaced));
  }
  for (const PrePiece& part : parts) {
    PrePiece mapped{std::string(), part.at_origin};
    mapped.text.reserve(part.text.size() * 2);
    append_byte_level(mapped.text, part.text);
    out.push_back(std::move(mapped));
  }
}

void PreTokenizer::split(std::string_view text, bool at_origin, std::vector<std::string>& pieces) const {
  if (text.empty()) return;
  if (steps_.empty()) {
    pieces.emplace_back(text);
    return;
  }
  std::vector<PrePiece> current{{std::string(text), at_origin}}, next;
  for (const Step& step : steps_) {
    next.clear();
    for (const PrePiece& piece : current) apply(step, piece, next);
    current.swap(next);
  }
  for (PrePiece& piece : current) pieces.push_back(std::move(piece.text));
}

}  // namespace strata::tokenizer
