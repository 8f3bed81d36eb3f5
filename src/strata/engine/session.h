// Session: the text-level face of one Engine — prompt text in, tokens and detokenised text out — composed
// once here so every front end (`strata run`, the server, chat) shares one tokenizer/decoder/engine wiring.
// It owns no model state: the tokenizer and engine it is given must outlive it and every request it submits.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "strata/engine/engine.h"
#include "strata/engine/request.h"
#include "strata/tokenizer/tokenizer.h"

namespace strata::engine {

// Renders chat messages (an OpenAI-style JSON array) to prompt text; add_generation_prompt appends the
// opening of the assistant's turn. A plain hook so the chat/ module can plug its templates in later
// without engine/ depending on it.
using ChatTemplate = std::function<std::string(const nlohmann::json& messages, bool add_generation_prompt)>;

// Called with each piece of generated text as soon as it is safe to show (never empty).
using TextCallback = std::function<void(std::string_view text)>;

// Encodes prompt text; throws strata::Error when it yields no tokens, since the engine needs at least one.
// Free so a caller can size an Engine (max_context) from the prompt before any Session exists.
std::vector<int32_t> encode_prompt(const tokenizer::Tokenizer& tokenizer, std::string_view text,
                                   bool add_special_tokens);

class Session {
 public:
  Session(const tokenizer::Tokenizer& tokenizer, Engine& engine);
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // encode_prompt with this session's tokenizer.
  std::vector<int32_t> encode(std::string_view text, bool add_special_tokens) const;

  // Queues a request and returns its id. Every event reaches on_event (may be empty; called on the
  // engine's stepping thread) with its text filled by a stream decoder of the request's own, so
  // concurrent requests never mix bytes. Special tokens are skipped in the text, so EOS and control
  // tokens never reach users; bytes of a character cut short by the end of generation are dropped.
  // Text prompts throw strata::Error here if they encode to nothing; token prompts are judged by the
  // engine (a finished/error event). Safe from any thread, like Engine::submit.
  RequestId submit(std::string_view prompt, const SamplingParams& params, EventCallback on_event,
                   bool add_special_tokens = true);
  RequestId submit(std::vector<int32_t> prompt, const SamplingParams& params, EventCallback on_event);

  // Submits and steps the engine on this thread until the request finishes, streaming text to on_text.
  // Throws strata::Error with the engine's message when the request ends in FinishReason::error.
  // Drives Engine::step(), so it must not run while the engine's background thread does (use submit).
  Result generate(std::string_view prompt, const SamplingParams& params, TextCallback on_text = {},
                  bool add_special_tokens = true);
  Result generate(std::vector<int32_t> prompt, const SamplingParams& params, TextCallback on_text = {});

  // Chat templates. Set the hook before sharing the session across threads.
  void set_chat_template(ChatTemplate chat_template);
  bool has_chat_template() const { return static_cast<bool>(chat_template_); }
  // Throws strata::Error when no template is set or `messages` is not a JSON array.
  std::string render_chat(const nlohmann::json& messages, bool add_generation_prompt = true) const;

  const tokenizer::Tokenizer& tokenizer() const { return tokenizer_; }
  Engine& engine() { return engine_; }

 private:
  const tokenizer::Tokenizer& tokenizer_;
  Engine& engine_;
  ChatTemplate chat_template_;
};

}  // namespace strata::engine
