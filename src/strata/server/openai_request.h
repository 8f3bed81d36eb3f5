// OpenAI request bodies → what the engine runs. parse_chat_request / parse_completion_request read the
// JSON of POST /v1/chat/completions and /v1/completions (OpenAI's fields plus the llama.cpp/vLLM extras
// top_k, min_p, repetition_penalty, ignore_eos) and throw ApiError(400) naming the first field that is
// missing, of the wrong type or out of range. Unknown fields are ignored, as OpenAI's own server does.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "strata/engine/sampling_params.h"

namespace strata::server {

// One prompt of a completion request: text, or token ids.
struct Prompt {
  std::string text;
  std::vector<int32_t> tokens;  // non-empty: token ids were given
};

struct GenerationRequest {
  bool chat = false;
  std::string model;
  // chat: the validated messages (text parts joined), tools (or null) and chat_template_kwargs, in the
  // key order the client wrote them (templates print tool schemas with tojson)
  nlohmann::ordered_json messages;
  nlohmann::ordered_json tools;
  nlohmann::ordered_json template_kwargs = nlohmann::ordered_json::object();
  bool add_generation_prompt = true;
  std::vector<Prompt> prompts;  // completion: one or more
  bool echo = false;            // completion: prepend the prompt text to the output
  engine::SamplingParams sampling;
  std::optional<int64_t> max_tokens;  // absent: up to the context
  int n = 1;
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage
  bool logprobs = false;       // report per-token logprobs (chat: logprobs; completion: logprobs >= 0)
  int top_logprobs = 0;
};

// `ordered` is the same body parsed keeping key order; messages, tools and switches are taken from it.
GenerationRequest parse_chat_request(const nlohmann::json& body, const nlohmann::ordered_json& ordered);
GenerationRequest parse_completion_request(const nlohmann::json& body);

}  // namespace strata::server
