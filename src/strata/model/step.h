// One packed step as the model sees it. ForwardBatch is what a caller submits (token ids plus one
// SequenceStep per sequence); StepContext is what every block receives: the batch in kernel form, the
// positions, the cache, the workspace and the Exec — built once per step by Model::forward in workspace
// memory, so a steady-state step allocates nothing.
#pragma once

#include <cstdint>
#include <span>

#include "strata/cache/sequence_cache.h"
#include "strata/core/exec.h"
#include "strata/core/workspace.h"
#include "strata/kernels/varlen.h"

namespace strata::model {

// One sequence's share of a step: `length` tokens continuing from the slot's state (its position).
// keep_states makes this a (1+S)-token verification: the state after every token is kept so the cache
// can roll back to any accepted prefix (cache::SequenceCache::rollback). A leading run of one-token and
// keep_states sequences runs token by token; keep_states sequences must be part of it.
struct SequenceStep {
  int32_t slot = 0;
  int64_t length = 0;
  bool all_logits = false;   // logits for every token of the step, else only for its last token
  bool keep_states = false;  // verification: keep per-token Mamba states (length <= S + 1)
};

struct ForwardBatch {
  std::span<const int32_t> tokens;  // packed token ids of all sequences, in sequence order
  std::span<const SequenceStep> sequences;
};

struct StepContext {
  kernels::VarlenBatch varlen;               // every sequence: rows, slots, has_initial_state
  kernels::Mirrored<int64_t> start_positions;  // per sequence: tokens already consumed
  kernels::Mirrored<int64_t> positions;        // per token: its position in its sequence (RoPE)
  std::span<const uint8_t> keep_states;      // per sequence
  int64_t recurrent_sequences = 0;           // leading sequences on the token-by-token path
  Tensor token_ids;                          // i32 [T] on the step's device (embedding, hash routing)
  cache::SequenceCache& cache;
  Workspace& workspace;
  const Exec& exec;
};

}  // namespace strata::model
