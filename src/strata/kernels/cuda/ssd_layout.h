// Where the CUDA chunked SSD scan keeps its scratch inside the caller's device workspace: the chunk table,
// per-(chunk, head) dt / cumsum / decay vectors, the chunks' C·Bᵀ and one [H, P, N] state per chunk
// boundary. Plain C++: host sizing (ssd_workspace_bytes) and the .cu files share the one formula.
#pragma once

#include <cstddef>
#include <cstdint>

#include "strata/kernels/ssd.h"

namespace strata::kernels::cuda {

// One chunk of one sequence; built on the device from cu_seqlens (row_offset already subtracted).
struct SsdChunk {
  int64_t begin;       // first packed row of the chunk
  int32_t length;      // tokens, 1..Q
  int32_t sequence;    // batch index of its sequence
  int32_t entry;       // states-region entry holding the state that enters this chunk
  int32_t zero_state;  // 1 when that state is known to be zero (first chunk, no initial state)
};

// Byte offsets (from a 256-byte aligned base) of every region. Sequence i with n_i chunks owns n_i + 1
// consecutive state entries: the state entering each of its chunks, then its final state. Before the
// state pass, entry k + 1 holds chunk k's own contribution; the pass turns it into the state in place.
struct SsdLayout {
  int64_t max_chunks = 0;   // Σ ceil(len_i / Q) <= floor(T / Q) + S
  int64_t max_entries = 0;  // max_chunks + S
  size_t chunks = 0;        // SsdChunk[max_chunks]
  size_t first_chunk = 0;   // int32[S + 1]: first chunk of each sequence, then the total
  size_t dt = 0;            // f32 [chunk][H][Q]: dt after bias, softplus and clamp
  size_t cumsum = 0;        // f64 [chunk][H][Q]: inclusive cumsum of dt·A inside the chunk
  size_t decay = 0;         // f32 [chunk][H][Q]: exp(cs_t), the entering state's decay to token t
  size_t weight = 0;        // f32 [chunk][H][Q]: exp(cs_last − cs_s)·dt_s, token s's weight in the chunk state
  size_t cb = 0;            // f32 [chunk][G][Q][Q]: C_t·B_s (lower triangle used)
  size_t states = 0;        // f32 [entry][H][P][N]
  size_t total = 0;         // bytes the caller must provide (includes slack to align its pointer)
};

constexpr size_t kSsdAlign = 256;

inline SsdLayout plan_ssd(const SsdParams& p, int64_t num_tokens, int64_t num_sequences) {
  const auto align = [](size_t bytes) { return (bytes + kSsdAlign - 1) / kSsdAlign * kSsdAlign; };
  const auto count = [](int64_t n) { return static_cast<size_t>(n > 0 ? n : 0); };
  SsdLayout l;
  const int64_t q = p.chunk_size > 0 ? p.chunk_size : 1;
  l.max_chunks = num_tokens / q + num_sequences;
  l.max_entries = l.max_chunks + num_sequences;
  const size_t per_chunk_head = count(l.max_chunks * p.n_heads * p.chunk_size);
  size_t at = 0;
  l.chunks = at;
  at += align(count(l.max_chunks) * sizeof(SsdChunk));
  l.first_chunk = at;
  at += align(count(num_sequences + 1) * sizeof(int32_t));
  l.dt = at;
  at += align(per_chunk_head * sizeof(float));
  l.cumsum = at;
  at += align(per_chunk_head * sizeof(double));
  l.decay = at;
  at += align(per_chunk_head * sizeof(float));
  l.weight = at;
  at += align(per_chunk_head * sizeof(float));
  l.cb = at;
  at += align(count(l.max_chunks * p.n_groups * p.chunk_size * p.chunk_size) * sizeof(float));
  l.states = at;
  at += align(count(l.max_entries * p.n_heads * p.head_dim * p.state_size) * sizeof(float));
  l.total = at + kSsdAlign;
  return l;
}

}  // namespace strata::kernels::cuda
