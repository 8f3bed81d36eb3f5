#include "strata/tokenizer/stream_decoder.h"

#include "strata/tokenizer/byte_fallback.h"
#include "strata/tokenizer/byte_level.h"
#include "strata/tokenizer/utf8.h"

namespace strata::tokenizer {
namespace {

std::string join(const std::vector<std::string>& tokens) {
  std::string out;
  for (const std::string& token : tokens) out += token;
  return out;
}

// Steps that give the same result on a text as on its pieces one after another.
bool works_piecewise(const DecodeStep& step) {
  switch (step.kind) {
    case DecodeStep::Kind::Fuse:
    case DecodeStep::Kind::Strip:      // only the ends change; feed_strip holds them back
    case DecodeStep::Kind::Metaspace:  // character by character (the one token is the first)
      return true;
    case DecodeStep::Kind::Replace:
      return step.replace->is_single_character();
    case DecodeStep::Kind::ByteLevel:
    case DecodeStep::Kind::ByteFallback:
      return false;  // they read the whole text at once
  }
  return false;
}

}  // namespace

StreamDecoder::StreamDecoder(const Tokenizer& tokenizer, bool skip_special_tokens)
    : tokenizer_(tokenizer), skip_special_tokens_(skip_special_tokens) {
  const auto& steps = tokenizer_.decoder().steps();
  first_joining_ = steps.size();
  for (size_t i = 0; i < steps.size() && first_joining_ == steps.size(); ++i) {
    if (steps[i].joins_tokens()) first_joining_ = i;
  }
  for (size_t i = first_joining_ + 1; i < steps.size(); ++i)
    streamable_ = streamable_ && works_piecewise(steps[i]);
  strip_.resize(steps.size());
}

std::string StreamDecoder::push(int32_t id) {
  const auto token = tokenizer_.token_for_decode(id, skip_special_tokens_);
  if (!token) return "";
  if (tokenizer_.decoder().joins_with_spaces()) {
    std::string text = first_ ? std::string() : std::string(" ");
    first_ = false;
    return text.append(*token);
  }
  window_.emplace_back(*token);
  return streamable_ ? decode_window(/*end_of_stream=*/false) : std::string();
}

std::string StreamDecoder::flush() {
  std::string text;
  if (!tokenizer_.decoder().joins_with_spaces()) {
    text =
        streamable_ ? decode_window(/*end_of_stream=*/true) : tokenizer_.decoder().decode(std::move(window_));
  }
  reset();
  return text;
}

void StreamDecoder::reset() {
  first_ = true;
  window_.clear();
  pending_bytes_.clear();
  strip_.assign(strip_.size(), StripState{});
}

std::string StreamDecoder::decode_window(bool end_of_stream) {
  // The steps before the joining one treat a window on its own exactly as inside the whole list as
  // long as no byte-fallback run continues past it; so a window whose last token (as a ByteFallback
  // step sees it) is a byte token waits for the next id.
  const auto& steps = tokenizer_.decoder().steps();
  std::vector<std::string> tokens = window_;
  for (size_t i = 0; i < first_joining_; ++i) {
    if (!end_of_stream && steps[i].kind == DecodeStep::Kind::ByteFallback && !tokens.empty() &&
        byte_fallback_value(tokens.back())) {
      return "";
    }
    apply_decode_step(steps[i], tokens, first_);
  }
  if (!window_.empty()) first_ = false;
  window_.clear();
  return feed_joined(std::move(tokens), end_of_stream);
}

std::string StreamDecoder::feed_joined(std::vector<std::string> tokens, bool end_of_stream) {
  const auto& steps = tokenizer_.decoder().steps();
  if (first_joining_ == steps.size()) return join(tokens);
  std::string text;
  if (steps[first_joining_].kind == DecodeStep::Kind::ByteLevel) {
    for (const std::string& token : tokens) append_token_bytes(pending_bytes_, token);
    // Lossy repair of a prefix that ends on a character boundary gives the same text the full decode
    // gives for those bytes: the repair never looks past a complete character or an invalid byte.
    const size_t ready = end_of_stream ? pending_bytes_.size() : utf8_emittable_prefix(pending_bytes_);
    text = utf8_lossy(std::string_view(pending_bytes_).substr(0, ready));
    pending_bytes_.erase(0, ready);
  } else {
    text = join(tokens);
  }
  for (size_t i = first_joining_ + 1; i < steps.size(); ++i) {
    const DecodeStep& step = steps[i];
    switch (step.kind) {
      case DecodeStep::Kind::Strip:
        text = feed_strip(i, text, end_of_stream);
        break;
      case DecodeStep::Kind::Metaspace:
        text = metaspace_decode_token(step.metaspace, text, /*first=*/true);
        break;
      case DecodeStep::Kind::Replace:
        text = step.replace->apply(text);
        break;
      default:  // Fuse: the text is already one piece
        break;
    }
  }
  return text;
}

std::string StreamDecoder::feed_strip(size_t step_index, const std::string& text, bool end_of_stream) {
  const DecodeStep& step = tokenizer_.decoder().steps()[step_index];
  StripState& state = strip_[step_index];
  const std::string& content = step.strip_content;
  std::string out;
  size_t held_count = state.held.size() / content.size();
  for (size_t pos = 0; pos < text.size();) {
    const size_t length = std::max<size_t>(1, utf8_sequence_length(text, pos));
    const bool is_content = text.compare(pos, length, content) == 0;
    const std::string_view ch = std::string_view(text).substr(pos, length);
    pos += length;
    if (!state.leading_done) {
      if (is_content && state.stripped < step.strip_start) {
        ++state.stripped;
        continue;
      }
      state.leading_done = true;
    }
    if (step.strip_stop == 0) {
      out.append(ch);
    } else if (is_content) {
      state.held.append(ch);
      ++held_count;
    } else {
      out += state.held;
      out.append(ch);
      state.held.clear();
      held_count = 0;
    }
  }
  // Trailing characters beyond `stop` of them stay whatever comes next; at the end the rest go.
  const size_t keep = held_count > step.strip_stop ? held_count - step.strip_stop : 0;
  out.append(state.held, 0, keep * content.size());
  if (end_of_stream) {
    state.held.clear();
  } else {
    state.held.erase(0, keep * content.size());
  }
  return out;
}

}  // namespace strata::tokenizer
