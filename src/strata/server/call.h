// Call: one HTTP generation request inside the server — its choices (one engine request each, what
// each has produced so far) and the queue of engine events the engine thread hands to the HTTP thread.
// The engine's callbacks push under `mutex` and notify `changed`; the HTTP thread pops and apply()s.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "strata/engine/request.h"

namespace strata::server {

struct Call {
  using Clock = std::chrono::steady_clock;
  struct Token {
    int32_t id;
    float logprob;
    std::vector<engine::TokenLogprob> top;
  };
  struct Choice {
    engine::RequestId id = 0;
    size_t prompt = 0;       // which prompt it continues
    std::string echo;        // completion echo: the prompt text before the output
    std::string text;
    std::vector<Token> tokens;  // with logprobs requested (whole responses)
    bool finished = false;
    engine::FinishReason reason = engine::FinishReason::stop;
    std::string message;
    engine::RequestStats stats;
    Clock::time_point last_token{};  // for the inter-token histogram
  };

  std::string id;
  int64_t created = 0;
  std::string model;
  bool chat = false, stream = false, include_usage = false, logprobs = false;
  std::vector<int64_t> prompt_tokens;  // per prompt
  std::vector<Choice> choices;          // prompt-major: index = prompt · n + k

  std::mutex mutex;
  std::condition_variable changed;
  std::deque<std::pair<size_t, engine::Event>> events;  // (choice, event), in engine order
  size_t unfinished = 0;

  // Applies one event to its choice (the caller holds `mutex`); returns whether it finished the choice.
  bool apply(size_t choice_index, const engine::Event& event, bool keep_tokens) {
    Choice& choice = choices[choice_index];
    if (event.kind == engine::Event::Kind::token) {
      choice.text += event.text;
      if (keep_tokens) choice.tokens.push_back({event.token, event.logprob, event.top_logprobs});
      return false;
    }
    choice.finished = true;
    choice.reason = event.reason;
    choice.message = event.message;
    choice.stats = event.stats;
    --unfinished;
    return true;
  }

  // The first choice that ended in an error, or null.
  const Choice* failed() const {
    for (const Choice& c : choices)
      if (c.reason == engine::FinishReason::error) return &c;
    return nullptr;
  }
};

}  // namespace strata::server
