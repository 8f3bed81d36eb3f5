#include "strata/tokenizer/normalizer.h"

#include "strata/tokenizer/nfc.h"

namespace strata::tokenizer {

Normalizer Normalizer::from_json(const Json& spec, const std::string& where) {
  Normalizer normalizer;
  if (!spec.is_null()) normalizer.add(spec, where);
  return normalizer;
}

void Normalizer::add(const Json& spec, const std::string& where) {
  const std::string type = type_field(spec, where);
  Step step;
  if (type == "NFC") {
    step.kind = Step::Kind::Nfc;
  } else if (type == "Prepend") {
    step.kind = Step::Kind::Prepend;
    step.prepend = string_field(spec, "prepend", where);
  } else if (type == "Replace") {
    step.kind = Step::Kind::Replace;
    step.replace = ReplacePattern::from_json(spec, where);
  } else if (type == "Sequence") {
    const Json& items = require_field(spec, "normalizers", where);
    if (!items.is_array()) fail("{}.normalizers: expected an array", where);
    for (size_t i = 0; i < items.size(); ++i) add(items[i], fmt::format("{}.normalizers[{}]", where, i));
    return;
  } else {
    fail("{}: unsupported normalizer type '{}' (supported: NFC, Prepend, Replace, Sequence, null)", where,
         type);
  }
  steps_.push_back(std::move(step));
}

std::string Normalizer::apply(std::string_view text) const {
  std::string out(text);
  for (const Step& step : steps_) {
    switch (step.kind) {
      case Step::Kind::Nfc:
        out = nfc_normalize(out);
        break;
      case Step::Kind::Prepend:
        if (!out.empty()) out.insert(0, step.prepend);  // HF leaves empty text empty
        break;
      case Step::Kind::Replace:
        out = step.replace->apply(out);
        break;
    }
  }
  return out;
}

}  // namespace strata::tokenizer
