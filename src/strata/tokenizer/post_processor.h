// The tokenizer.json "post_processor" for a single sequence: the special ids placed before and after
// the encoded text when add_special_tokens is set. Supported: null, ByteLevel (adds nothing),
// TemplateProcessing ("<s> $A </s>"), RobertaProcessing / BertProcessing (cls $A sep), Sequence.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "strata/tokenizer/json_fields.h"

namespace strata::tokenizer {

struct PostProcessor {
  std::vector<int32_t> prefix;
  std::vector<int32_t> suffix;

  static PostProcessor from_json(const Json& spec, const std::string& where);
};

}  // namespace strata::tokenizer
