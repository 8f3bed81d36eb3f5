// The scheduler's packing rule, as a pure function: which sequences run in the next step and with how
// many tokens. Decode tokens of every generating sequence come first (the Mamba layers take their fast
// path for that leading run), then prefill chunks in arrival order within the token budget.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace strata::engine {

struct SequenceProgress {
  int64_t fed = 0;            // tokens the sequence's state has consumed
  int64_t prompt_length = 0;  // prefill is done once fed reaches it
};

struct PlannedStep {
  size_t index = 0;    // into the progress list
  int64_t length = 0;  // tokens this step: 1 for decode
  bool decode = false;
};

// A prefill chunk runs from `fed` to the next multiple of prefill_chunk (absolute position), the prompt's
// end, or the budget's end, whichever is first: so the state after a full chunk sits on a boundary the
// prefix store can key, and a chunk cut short by the budget realigns on the next step. Decodes are never
// dropped: callers guarantee token_budget >= the number of generating sequences.
std::vector<PlannedStep> plan_step(std::span<const SequenceProgress> sequences, int64_t token_budget,
                                   int64_t prefill_chunk);

}  // namespace strata::engine
