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
  if (type == "NFC") {
    steps_.push_back(Step::Nfc);
  } else if (type == "Sequence") {
    const Json& items = require_field(spec, "normalizers", where);
    if (!items.is_array()) fail("{}.normalizers: expected an array", where);
    for (size_t i = 0; i < items.size(); ++i) add(items[i], fmt::format("{}.normalizers[{}]", where, i));
  } else {
    fail("{}: unsupported normalizer type '{}' (supported: NFC, Sequence, null)", where, type);
  }
}

std::string Normalizer::apply(std::string_view text) const {
  std::string out(text);
  for (Step step : steps_) {
    switch (step) {
      case Step::Nfc:
        out = nfc_normalize(out);
        break;
    }
  }
  return out;
}

}  // namespace strata::tokenizer
