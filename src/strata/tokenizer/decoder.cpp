#include "strata/tokenizer/decoder.h"

#include "strata/tokenizer/byte_fallback.h"
#include "strata/tokenizer/byte_level.h"
#include "strata/tokenizer/utf8.h"

namespace strata::tokenizer {
namespace {

// A non-negative integer field (a Rust usize).
size_t count_field(const Json& spec, const char* key, const std::string& where) {
  const Json& value = require_field(spec, key, where);
  if (!value.is_number_unsigned() && !(value.is_number_integer() && value.get<int64_t>() >= 0)) {
    fail("{}.{}: expected a non-negative integer, got {}", where, key, value.dump());
  }
  return value.get<size_t>();
}

std::string one_character_field(const Json& spec, const char* key, const std::string& where) {
  const std::string text = string_field(spec, key, where);
  if (text.empty() || utf8_sequence_length(text, 0) != text.size()) {
    fail("{}.{}: expected exactly one character, got \"{}\"", where, key, text);
  }
  return text;
}

void byte_fallback(std::vector<std::string>& tokens) {
  std::vector<std::string> out;
  out.reserve(tokens.size());
  std::string run;
  for (std::string& token : tokens) {
    if (auto byte = byte_fallback_value(token)) {
      run.push_back(static_cast<char>(*byte));
      continue;
    }
    append_byte_run(run, out);
    run.clear();
    out.push_back(std::move(token));
  }
  append_byte_run(run, out);
  tokens = std::move(out);
}

std::string join(const std::vector<std::string>& tokens) {
  size_t size = 0;
  for (const std::string& token : tokens) size += token.size();
  std::string out;
  out.reserve(size);
  for (const std::string& token : tokens) out += token;
  return out;
}

}  // namespace

std::string strip_token(const std::string& token, const std::string& content, size_t start, size_t stop) {
  size_t begin = 0;
  for (size_t n = 0; n < start && token.compare(begin, content.size(), content) == 0; ++n)
    begin += content.size();
  size_t end = token.size();
  for (size_t n = 0;
       n < stop && end >= content.size() && token.compare(end - content.size(), content.size(), content) == 0;
       ++n) {
    end -= content.size();
  }
  return begin < end ? token.substr(begin, end - begin) : std::string();
}

void apply_decode_step(const DecodeStep& step, std::vector<std::string>& tokens, bool at_start) {
  switch (step.kind) {
    case DecodeStep::Kind::ByteLevel: {
      std::string bytes;
      for (const std::string& token : tokens) append_token_bytes(bytes, token);
      tokens.assign(1, utf8_lossy(bytes));
      break;
    }
    case DecodeStep::Kind::ByteFallback:
      byte_fallback(tokens);
      break;
    case DecodeStep::Kind::Fuse:
      tokens.assign(1, join(tokens));
      break;
    case DecodeStep::Kind::Replace:
      for (std::string& token : tokens) token = step.replace->apply(token);
      break;
    case DecodeStep::Kind::Strip:
      for (std::string& token : tokens)
        token = strip_token(token, step.strip_content, step.strip_start, step.strip_stop);
      break;
    case DecodeStep::Kind::Metaspace:
      for (size_t i = 0; i < tokens.size(); ++i) {
        tokens[i] = metaspace_decode_token(step.metaspace, tokens[i], at_start && i == 0);
      }
      break;
  }
}

Decoder Decoder::from_json(const Json& spec, const std::string& where) {
  Decoder decoder;
  if (spec.is_null()) return decoder;
  decoder.present_ = true;
  decoder.add(spec, where);
  return decoder;
}

void Decoder::add(const Json& spec, const std::string& where) {
  const std::string type = type_field(spec, where);
  DecodeStep step;
  if (type == "Sequence") {
    const Json& items = require_field(spec, "decoders", where);
    if (!items.is_array()) fail("{}.decoders: expected an array", where);
    for (size_t i = 0; i < items.size(); ++i) add(items[i], fmt::format("{}.decoders[{}]", where, i));
    return;
  }
  if (type == "ByteLevel") {
    step.kind = DecodeStep::Kind::ByteLevel;
  } else if (type == "ByteFallback") {
    step.kind = DecodeStep::Kind::ByteFallback;
  } else if (type == "Fuse") {
    step.kind = DecodeStep::Kind::Fuse;
  } else if (type == "Replace") {
    step.kind = DecodeStep::Kind::Replace;
    step.replace = ReplacePattern::from_json(spec, where);
  } else if (type == "Strip") {
    step.kind = DecodeStep::Kind::Strip;
    step.strip_content = one_character_field(spec, "content", where);
    step.strip_start = count_field(spec, "start", where);
    step.strip_stop = count_field(spec, "stop", where);
  } else if (type == "Metaspace") {
    step.kind = DecodeStep::Kind::Metaspace;
    step.metaspace = Metaspace::from_json(spec, where);
  } else {
    fail(
        "{}: unsupported decoder type '{}' (supported: ByteLevel, ByteFallback, Fuse, Replace, Strip, "
        "Metaspace, "
        "Sequence, null)",
        where, type);
  }
  steps_.push_back(std::move(step));
}

std::string Decoder::decode(std::vector<std::string> tokens) const {
  if (!present_) {
    std::string out;
    for (size_t i = 0; i < tokens.size(); ++i) {
      if (i > 0) out.push_back(' ');
      out += tokens[i];
    }
    return out;
  }
  for (const DecodeStep& step : steps_) apply_decode_step(step, tokens, /*at_start=*/true);
  return join(tokens);
}

}  // namespace strata::tokenizer
