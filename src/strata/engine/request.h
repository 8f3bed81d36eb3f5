// A generation request as the engine sees it, and the events it streams back: one event per sampled
// token, then exactly one `finished` event (stop, length, cancelled or error, with the reason) carrying
// the request's final counters. Events are delivered on the engine's stepping thread, in order.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "strata/engine/sampler.h"
#include "strata/engine/sampling_params.h"

namespace strata::engine {

using RequestId = uint64_t;

enum class FinishReason : uint8_t { stop, length, cancelled, error };
const char* finish_reason_name(FinishReason reason);

struct RequestStats {
  int64_t prompt_tokens = 0;
  int64_t reused_tokens = 0;    // prompt tokens restored from the prefix store
  int64_t computed_tokens = 0;  // prompt tokens run through the model
  int64_t generated_tokens = 0;
  double queue_seconds = 0;        // submit -> admission
  double first_token_seconds = 0;  // submit -> first token
  double total_seconds = 0;        // submit -> finished
};

struct Event {
  enum class Kind : uint8_t { token, finished } kind = Kind::token;
  RequestId id = 0;
  // kind == token
  int32_t token = -1;
  float logprob = 0;                 // of the sampled token under the unmodified model distribution
  std::vector<TokenLogprob> top_logprobs;  // SamplingParams::logprobs alternatives, most likely first
  // Text now safe to show (Request::token_text given): stop strings, EOS and stop tokens never appear,
  // and text that may begin a stop string is held back until it cannot (sampling_stop.h).
  std::string text;
  // kind == finished
  FinishReason reason = FinishReason::stop;
  std::string message;  // why, for error (and the matched stop, if any)
  RequestStats stats;
};

using EventCallback = std::function<void(const Event&)>;

struct Request {
  std::vector<int32_t> prompt;  // token ids, non-empty
  SamplingParams sampling;
  EventCallback callback = {};  // may be empty; called on the engine thread, must not block long
  // The text piece of each generated token, whole UTF-8 characters (an incremental detokenizer's
  // output). Needed for stop_strings; without it events carry no text.
  std::function<std::string(int32_t token)> token_text = {};
};

// What generate() collects.
struct Result {
  std::vector<int32_t> tokens;  // every sampled token, a final stop or EOS token included
  std::string text;
  std::vector<float> logprobs;
  FinishReason reason = FinishReason::stop;
  std::string message;
  RequestStats stats;
};

}  // namespace strata::engine
