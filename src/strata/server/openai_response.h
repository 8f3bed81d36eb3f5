// The JSON shapes of OpenAI responses for one Call: whole chat.completion / text_completion bodies, the
// chunks of a stream (the opening role chunk, one per token, the finish chunk, the usage chunk), usage
// with prompt_tokens_details.cached_tokens, and per-token logprobs in chat's and completions' layouts.
// Token strings come from the tokenizer; invalid UTF-8 in them becomes U+FFFD when dumped (dump()).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "strata/server/call.h"
#include "strata/tokenizer/tokenizer.h"

namespace strata::server {

// Every JSON the server writes goes through this: invalid UTF-8 becomes U+FFFD instead of throwing.
std::string dump(const nlohmann::json& j);

const char* finish_reason_text(engine::FinishReason reason);  // stop, length, abort (cancelled), error

class ResponseWriter {
 public:
  ResponseWriter(const Call& call, const tokenizer::Tokenizer& tokenizer) : call_(call), tokenizer_(tokenizer) {}

  nlohmann::json usage() const;
  // The whole response of a finished, successful call.
  nlohmann::json whole() const;
  // Stream chunks.
  nlohmann::json chunk(nlohmann::json choices) const;
  nlohmann::json opening_chunk() const;  // chat: every choice's role; completions: echoes (may be empty)
  nlohmann::json token_chunk(size_t choice, const engine::Event& event, size_t text_offset) const;
  nlohmann::json finish_chunk(size_t choice, engine::FinishReason reason) const;
  nlohmann::json usage_chunk() const;

 private:
  std::string piece(int32_t token) const;
  nlohmann::json chat_logprobs(const std::vector<Call::Token>& tokens) const;
  nlohmann::json completion_logprobs(const std::vector<Call::Token>& tokens, size_t offset) const;

  const Call& call_;
  const tokenizer::Tokenizer& tokenizer_;
};

}  // namespace strata::server
