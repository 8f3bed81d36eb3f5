#include "strata/engine/session.h"

#include <memory>
#include <utility>

#include <nlohmann/json.hpp>

#include "strata/core/error.h"
#include "strata/tokenizer/stream_decoder.h"

namespace strata::engine {

std::vector<int32_t> encode_prompt(const tokenizer::Tokenizer& tokenizer, std::string_view text,
                                   bool add_special_tokens) {
  std::vector<int32_t> tokens = tokenizer.encode(text, add_special_tokens);
  if (tokens.empty()) fail("the prompt encodes to no tokens; give some text");
  return tokens;
}

Session::Session(const tokenizer::Tokenizer& tokenizer, Engine& engine) : tokenizer_(tokenizer), engine_(engine) {}

std::vector<int32_t> Session::encode(std::string_view text, bool add_special_tokens) const {
  return encode_prompt(tokenizer_, text, add_special_tokens);
}

RequestId Session::submit(std::string_view prompt, const SamplingParams& params, EventCallback on_event,
                          bool add_special_tokens) {
  return submit(encode(prompt, add_special_tokens), params, std::move(on_event));
}

RequestId Session::submit(std::vector<int32_t> prompt, const SamplingParams& params, EventCallback on_event) {
  // The engine judges EOS, stop strings and length on the text the decoder gives it and hands back only
  // text that is safe to show. The decoder is per request (its pending bytes belong to one stream) and
  // shared by both lambdas, which the engine keeps until the request's finished event, so it lives
  // exactly as long as the request however the caller's scope ends.
  auto decoder = std::make_shared<tokenizer::StreamDecoder>(tokenizer_, /*skip_special_tokens=*/true);
  Request request;
  request.prompt = std::move(prompt);
  request.sampling = params;
  request.token_text = [decoder](int32_t token) { return decoder->push(token); };
  request.callback = [decoder, on_event = std::move(on_event)](const Event& event) {
    if (on_event) on_event(event);
  };
  return engine_.submit(std::move(request));
}

Result Session::generate(std::string_view prompt, const SamplingParams& params, TextCallback on_text,
                         bool add_special_tokens) {
  return generate(encode(prompt, add_special_tokens), params, std::move(on_text));
}

Result Session::generate(std::vector<int32_t> prompt, const SamplingParams& params, TextCallback on_text) {
  // The callback runs inside engine_.step() on this thread, so the locals it touches need no locking.
  Result result;
  bool finished = false;
  submit(std::move(prompt), params, [&](const Event& event) {
    if (event.kind == Event::Kind::token) {
      result.tokens.push_back(event.token);
      result.logprobs.push_back(event.logprob);
      result.text += event.text;
      if (on_text && !event.text.empty()) on_text(event.text);
      return;
    }
    result.reason = event.reason;
    result.message = event.message;
    result.stats = event.stats;
    finished = true;
  });
  while (!finished) engine_.step();
  if (result.reason == FinishReason::error) throw Error(result.message);
  return result;
}

void Session::set_chat_template(ChatTemplate chat_template) { chat_template_ = std::move(chat_template); }

std::string Session::render_chat(const nlohmann::json& messages, bool add_generation_prompt) const {
  if (!chat_template_)
    fail("this model has no chat template; give the prompt as plain text, or use a model whose "
         "tokenizer_config.json has a chat_template");
  if (!messages.is_array()) fail("chat messages must be a JSON array of messages, got {}", messages.type_name());
  return chat_template_(messages, add_generation_prompt);
}

}  // namespace strata::engine
