#include "strata/server/openai_response.h"

namespace strata::server {

using nlohmann::json;

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

const char* finish_reason_text(engine::FinishReason reason) {
  switch (reason) {
    case engine::FinishReason::stop: return "stop";
    case engine::FinishReason::length: return "length";
    case engine::FinishReason::cancelled: return "abort";  // vLLM's name: the server or the client stopped it
    case engine::FinishReason::error: return "error";
  }
  return "stop";
}

namespace {

json bytes_of(const std::string& s) {
  json out = json::array();
  for (unsigned char c : s) out.push_back(static_cast<int>(c));
  return out;
}

}  // namespace

std::string ResponseWriter::piece(int32_t token) const { return tokenizer_.decode(std::vector<int32_t>{token}, false); }

json ResponseWriter::chat_logprobs(const std::vector<Call::Token>& tokens) const {
  json content = json::array();
  for (const Call::Token& t : tokens) {
    const std::string text = piece(t.id);
    json top = json::array();
    for (const engine::TokenLogprob& alt : t.top) {
      const std::string alt_text = piece(alt.token_id);
      top.push_back({{"token", alt_text}, {"logprob", alt.logprob}, {"bytes", bytes_of(alt_text)}});
    }
    content.push_back({{"token", text}, {"logprob", t.logprob}, {"bytes", bytes_of(text)}, {"top_logprobs", top}});
  }
  return json{{"content", content}};
}

json ResponseWriter::completion_logprobs(const std::vector<Call::Token>& tokens, size_t offset) const {
  json out = {{"tokens", json::array()}, {"token_logprobs", json::array()}, {"top_logprobs", json::array()},
              {"text_offset", json::array()}};
  for (const Call::Token& t : tokens) {
    const std::string text = piece(t.id);
    out["tokens"].push_back(text);
    out["token_logprobs"].push_back(t.logprob);
    json top = json::object();
    for (const engine::TokenLogprob& alt : t.top) top[piece(alt.token_id)] = alt.logprob;
    out["top_logprobs"].push_back(top);
    out["text_offset"].push_back(offset);
    offset += text.size();
  }
  return out;
}

json ResponseWriter::usage() const {
  int64_t prompt = 0, completion = 0, cached = 0;
  for (int64_t p : call_.prompt_tokens) prompt += p;
  // A prompt's cached tokens are those its first choice resumed (later choices of it may reuse more).
  std::vector<bool> counted(call_.prompt_tokens.size(), false);
  for (const Call::Choice& c : call_.choices) {
    completion += c.stats.generated_tokens;
    if (!counted[c.prompt]) cached += c.stats.reused_tokens, counted[c.prompt] = true;
  }
  return json{{"prompt_tokens", prompt}, {"completion_tokens", completion}, {"total_tokens", prompt + completion},
              {"prompt_tokens_details", {{"cached_tokens", cached}}}};
}

json ResponseWriter::whole() const {
  json choices = json::array();
  for (size_t i = 0; i < call_.choices.size(); ++i) {
    const Call::Choice& c = call_.choices[i];
    json choice = {{"index", i}, {"finish_reason", finish_reason_text(c.reason)}};
    if (call_.chat) {
      choice["message"] = {{"role", "assistant"}, {"content", c.text}};
      choice["logprobs"] = call_.logprobs ? chat_logprobs(c.tokens) : json(nullptr);
    } else {
      choice["text"] = c.echo + c.text;
      choice["logprobs"] = call_.logprobs ? completion_logprobs(c.tokens, c.echo.size()) : json(nullptr);
    }
    choices.push_back(std::move(choice));
  }
  return {{"id", call_.id}, {"object", call_.chat ? "chat.completion" : "text_completion"}, {"created", call_.created},
          {"model", call_.model}, {"choices", choices}, {"usage", usage()}, {"system_fingerprint", nullptr}};
}

json ResponseWriter::chunk(json choices) const {
  return json{{"id", call_.id}, {"object", call_.chat ? "chat.completion.chunk" : "text_completion"},
              {"created", call_.created}, {"model", call_.model}, {"choices", std::move(choices)},
              {"system_fingerprint", nullptr}};
}

json ResponseWriter::opening_chunk() const {
  json choices = json::array();
  for (size_t i = 0; i < call_.choices.size(); ++i) {
    if (call_.chat)
      choices.push_back({{"index", i}, {"delta", {{"role", "assistant"}, {"content", ""}}}, {"logprobs", nullptr},
                         {"finish_reason", nullptr}});
    else if (!call_.choices[i].echo.empty())
      choices.push_back({{"index", i}, {"text", call_.choices[i].echo}, {"logprobs", nullptr}, {"finish_reason", nullptr}});
  }
  return chunk(std::move(choices));
}

json ResponseWriter::token_chunk(size_t choice, const engine::Event& event, size_t text_offset) const {
  const std::vector<Call::Token> token{{event.token, event.logprob, event.top_logprobs}};
  json c;
  if (call_.chat)
    c = {{"index", choice}, {"delta", {{"content", event.text}}},
         {"logprobs", call_.logprobs ? chat_logprobs(token) : json(nullptr)}, {"finish_reason", nullptr}};
  else
    c = {{"index", choice}, {"text", event.text},
         {"logprobs", call_.logprobs ? completion_logprobs(token, text_offset) : json(nullptr)}, {"finish_reason", nullptr}};
  return chunk(json::array({c}));
}

json ResponseWriter::finish_chunk(size_t choice, engine::FinishReason reason) const {
  json c = {{"index", choice}, {"logprobs", nullptr}, {"finish_reason", finish_reason_text(reason)}};
  if (call_.chat)
    c["delta"] = json::object();
  else
    c["text"] = "";
  return chunk(json::array({c}));
}

json ResponseWriter::usage_chunk() const {
  json last = chunk(json::array());
  last["usage"] = usage();
  return last;
}

}  // namespace strata::server
