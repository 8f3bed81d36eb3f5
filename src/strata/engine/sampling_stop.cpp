#include "strata/engine/sampling_stop.h"

#include <algorithm>

#include "strata/core/error.h"

namespace strata::engine {

std::string_view finish_reason(StopReason reason) {
  switch (reason) {
    case StopReason::none: return "";
    case StopReason::max_new_tokens: return "length";
    case StopReason::eos_token:
    case StopReason::stop_token:
    case StopReason::stop_string: return "stop";
  }
  return "";
}

StopChecker::StopChecker(const SamplingParams& params, std::span<const int32_t> eos_token_ids)
    : eos_token_ids_(params.ignore_eos ? std::vector<int32_t>{}
                                       : std::vector<int32_t>(eos_token_ids.begin(),
                                                              eos_token_ids.end())),
      stop_token_ids_(params.stop_token_ids),
      stop_strings_(params.stop_strings),
      max_new_tokens_(params.max_new_tokens) {}

StopUpdate StopChecker::finish(StopReason reason) {
  finished_ = true;
  StopUpdate update;
  update.reason = reason;
  update.text = std::move(pending_);
  pending_.clear();
  return update;
}

StopUpdate StopChecker::on_token(int32_t token_id, std::string_view text_piece) {
  if (finished_)
    fail("stop checker: token {} arrived after the request finished; no more tokens may be fed",
         token_id);
  ++generated_tokens_;

  auto contains = [](const std::vector<int32_t>& ids, int32_t id) {
    return std::find(ids.begin(), ids.end(), id) != ids.end();
  };
  if (contains(eos_token_ids_, token_id) || contains(stop_token_ids_, token_id)) {
    StopUpdate update = finish(contains(eos_token_ids_, token_id) ? StopReason::eos_token
                                                                  : StopReason::stop_token);
    update.stop_token_id = token_id;
    return update;
  }

  pending_.append(text_piece);
  // pending_ only ever starts with a possible stop-string prefix, so every match that can exist in
  // the whole text begins inside it. The earliest-starting match wins; among matches at the same
  // position, the first stop string listed.
  size_t match_at = std::string::npos;
  const std::string* matched = nullptr;
  for (const std::string& stop : stop_strings_) {
    const size_t at = pending_.find(stop);
    if (at < match_at) {
      match_at = at;
      matched = &stop;
    }
  }
  if (matched != nullptr) {
    pending_.resize(match_at);
    StopUpdate update = finish(StopReason::stop_string);
    update.stop_string = *matched;
    return update;
  }

  if (generated_tokens_ >= max_new_tokens_) return finish(StopReason::max_new_tokens);

  const size_t hold = possible_stop_prefix();
  StopUpdate update;
  update.text = pending_.substr(0, pending_.size() - hold);
  pending_.erase(0, pending_.size() - hold);
  return update;
}

size_t StopChecker::possible_stop_prefix() const {
  size_t longest = 0;
  const std::string_view text(pending_);
  for (const std::string& stop : stop_strings_) {
    const size_t limit = std::min(stop.size() - 1, text.size());
    for (size_t length = limit; length > longest; --length) {
      if (text.substr(text.size() - length) == std::string_view(stop).substr(0, length)) {
        longest = length;
        break;
      }
    }
  }
  return longest;
}

}  // namespace strata::engine
