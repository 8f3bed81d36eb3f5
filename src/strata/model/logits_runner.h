// Runs a model over a batch of equal-length token sequences and collects the logits of every position,
// through one of the execution paths the parity tests and `strata logits` compare: whole-sequence
// prefill, prefill in chunks of N tokens, or one-token decode after the first token.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "strata/model/model.h"

namespace strata::model {

struct LogitsMode {
  enum Kind : uint8_t { full, decode, chunked } kind = full;
  int64_t chunk = 0;  // tokens per step for `chunked`
};

// "full", "decode" or "chunked=N" (N >= 1); throws strata::Error otherwise.
LogitsMode parse_logits_mode(const std::string& text);

// tokens: [B, L] row-major. Returns logits [B, L, V] row-major. All B sequences run together as one
// packed batch per step, each in its own cache slot.
std::vector<float> run_logits(const Model& model, const std::vector<int32_t>& tokens, int64_t batch, int64_t length,
                              LogitsMode mode, const Exec& exec);

}  // namespace strata::model
