#include "strata/kernels/cpu/ssd_scan.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>

#include "strata/kernels/cpu/ssd_gemm.h"
#include "strata/kernels/cuda/ssd_layout.h"  // the CUDA scan's scratch formula (plain C++)

#if defined(__SSE__)
#include <immintrin.h>
#endif

namespace strata::kernels::cpu {

// The algorithm, per sequence, head h (group g) and chunk of Q tokens (s ≤ t index tokens in the chunk,
// cs = inclusive cumsum of dt·A inside the chunk, S = state entering the chunk, kept transposed [N×P]):
//   y[t]  = exp(cs_t)·C_t·S  +  Σ_{s≤t} (C_t·B_s)·exp(cs_t − cs_s)·dt_s·x_s  +  D·x_t
//   S'    = exp(cs_last)·S + Σ_s Bᵀ_s ⊗ (exp(cs_last − cs_s)·dt_s·x_s)
// Phase 1 computes C·Bᵀ (Q×Q, lower triangle) and Bᵀ once per (chunk, group), shared by the group's heads.
// Phase 2 walks each (sequence, head) through its chunks in order, since the state passes from one to the
// next; both phases hand out work items dynamically so mixed lengths balance across threads.

namespace {

constexpr size_t kAlign = 64;

size_t align_up(size_t bytes) { return (bytes + kAlign - 1) / kAlign * kAlign; }
int64_t round_up(int64_t value, int64_t multiple) { return (value + multiple - 1) / multiple * multiple; }

struct ChunkInfo {
  int64_t begin;   // first packed row
  int64_t length;  // tokens, 1..Q
};

// Byte offsets of every region inside the (aligned) workspace.
struct Layout {
  int64_t q_padded = 0;  // row pitch of the Q-wide scratch matrices, a whole number of vectors
  int64_t max_chunks = 0;
  size_t chunks = 0, first_chunk = 0, order = 0, b_transposed = 0, cb = 0, threads = 0;
  size_t thread_stride = 0;
  // Within one thread's region.
  size_t masked_cb = 0, x_weighted = 0, state = 0, dt = 0, cumsum = 0, weight = 0, decay = 0, scratch = 0;
  size_t total = 0;
};

Layout plan(const SsdParams& p, int64_t num_tokens, int64_t num_sequences, int threads) {
  Layout l;
  const int64_t q = p.chunk_size;
  l.q_padded = round_up(q, 16);
  // Σ ceil(len_i / Q) <= floor(T / Q) + S.
  l.max_chunks = num_tokens / q + num_sequences;
  const auto floats = [](int64_t n) { return align_up(static_cast<size_t>(n) * sizeof(float)); };
  size_t at = 0;
  l.chunks = at;
  at += align_up(static_cast<size_t>(l.max_chunks) * sizeof(ChunkInfo));
  l.first_chunk = at;
  at += align_up(static_cast<size_t>(num_sequences + 1) * sizeof(int64_t));
  l.order = at;
  at += align_up(static_cast<size_t>(num_sequences) * sizeof(int64_t));
  l.b_transposed = at;
  at += static_cast<size_t>(l.max_chunks * p.n_groups) * floats(p.state_size * l.q_padded);
  l.cb = at;
  at += static_cast<size_t>(l.max_chunks * p.n_groups) * floats(q * l.q_padded);
  l.threads = at;
  size_t t = 0;
  l.masked_cb = t;
  t += floats(q * l.q_padded);
  l.x_weighted = t;
  t += floats(q * p.head_dim);
  l.state = t;
  t += floats(p.state_size * p.head_dim);
  l.dt = t;
  t += floats(l.q_padded);
  l.cumsum = t;
  t += floats(2 * l.q_padded);  // doubles
  l.weight = t;
  t += floats(l.q_padded);
  l.decay = t;
  t += floats(l.q_padded);
  l.scratch = t;
  t += floats(l.q_padded);
  l.thread_stride = t;
  at += t * static_cast<size_t>(std::max(threads, 1));
  l.total = at + kAlign;  // slack to align an arbitrary workspace pointer
  return l;
}

inline float softplus(float v) { return v > 20.0f ? v : std::log1p(std::exp(v)); }

// Everything phase 2 needs, flattened to pointers and strides.
struct Context {
  SsdParams p;
  Layout layout;
  char* base = nullptr;
  const float *x, *dt, *b, *c, *a, *d, *dt_bias;
  int64_t ldx, lddt, ldb, ldc;
  float* y;
  int64_t ldy;
  char* states;
  DType state_dtype;
  int64_t slot_stride;  // elements
  const VarlenBatch* batch;
  std::span<const SsdCapture> captures;

  const ChunkInfo* chunks() const { return reinterpret_cast<const ChunkInfo*>(base + layout.chunks); }
  const int64_t* first_chunk() const { return reinterpret_cast<const int64_t*>(base + layout.first_chunk); }
  float* b_transposed(int64_t chunk, int64_t group) const {
    const size_t stride = align_up(static_cast<size_t>(p.state_size * layout.q_padded) * sizeof(float));
    return reinterpret_cast<float*>(base + layout.b_transposed +
                                    static_cast<size_t>(chunk * p.n_groups + group) * stride);
  }
  float* cb(int64_t chunk, int64_t group) const {
    const size_t stride = align_up(static_cast<size_t>(p.chunk_size * layout.q_padded) * sizeof(float));
    return reinterpret_cast<float*>(base + layout.cb +
                                    static_cast<size_t>(chunk * p.n_groups + group) * stride);
  }
  float* thread_region(int thread, size_t offset) const {
    return reinterpret_cast<float*>(base + layout.threads +
                                    static_cast<size_t>(thread) * layout.thread_stride + offset);
  }
};

// Phase 1: Bᵀ [N × Q] and C·Bᵀ (lower triangle) for one chunk and group.
void chunk_group_products(const Context& ctx, int64_t chunk, int64_t group) {
  const ChunkInfo info = ctx.chunks()[chunk];
  const int64_t n_state = ctx.p.state_size, q_pad = ctx.layout.q_padded;
  float* bt = ctx.b_transposed(chunk, group);
  const float* b = ctx.b + info.begin * ctx.ldb + group * n_state;
  for (int64_t s = 0; s < info.length; ++s)
    for (int64_t n = 0; n < n_state; ++n) bt[n * q_pad + s] = b[s * ctx.ldb + n];
  const float* c = ctx.c + info.begin * ctx.ldc + group * n_state;
  ssd_gemm(info.length, info.length, n_state, c, ctx.ldc, bt, q_pad, ctx.cb(chunk, group), q_pad,
           /*accumulate=*/false, GemmCausal::n_through_row);
}

// The state is kept transposed ([N×P]) so every product in the chunk loop is a plain row-major A·B.
void load_state(const Context& ctx, const char* slot, float* state) {
  const int64_t np = ctx.p.head_dim, ns = ctx.p.state_size;
  if (ctx.state_dtype == DType::f32) {
    const float* src = reinterpret_cast<const float*>(slot);
    for (int64_t p = 0; p < np; ++p)
      for (int64_t n = 0; n < ns; ++n) state[n * np + p] = src[p * ns + n];
  } else {
    const uint16_t* src = reinterpret_cast<const uint16_t*>(slot);
    for (int64_t p = 0; p < np; ++p)
      for (int64_t n = 0; n < ns; ++n) state[n * np + p] = bf16_to_f32(src[p * ns + n]);
  }
}

void store_state(const Context& ctx, const float* state, char* slot, DType dtype) {
  const int64_t np = ctx.p.head_dim, ns = ctx.p.state_size;
  if (dtype == DType::f32) {
    float* dst = reinterpret_cast<float*>(slot);
    for (int64_t p = 0; p < np; ++p)
      for (int64_t n = 0; n < ns; ++n) dst[p * ns + n] = state[n * np + p];
  } else {
    uint16_t* dst = reinterpret_cast<uint16_t*>(slot);
    for (int64_t p = 0; p < np; ++p)
      for (int64_t n = 0; n < ns; ++n) dst[p * ns + n] = f32_to_bf16(state[n * np + p]);
  }
}

void capture_state(const Context& ctx, int64_t sequence, int64_t head, int64_t offset, const float* state) {
  const int64_t head_elems = ctx.p.head_dim * ctx.p.state_size;
  for (const SsdCapture& capture : ctx.captures) {
    if (capture.sequence != sequence || capture.offset != offset) continue;
    char* dst = reinterpret_cast<char*>(capture.state.ptr<float>() + head * head_elems);
    store_state(ctx, state, dst, DType::f32);
  }
}

// Phase 2: one head of one sequence through all of its chunks.
void scan_sequence_head(const Context& ctx, int thread, int64_t sequence, int64_t head) {
  const SsdParams& p = ctx.p;
  const int64_t np = p.head_dim, ns = p.state_size, q_pad = ctx.layout.q_padded;
  const int64_t group = head / (p.n_heads / p.n_groups);
  const float a_head = ctx.a[head], d_head = ctx.d[head], bias = ctx.dt_bias[head];
  float* masked_cb = ctx.thread_region(thread, ctx.layout.masked_cb);
  float* x_weighted = ctx.thread_region(thread, ctx.layout.x_weighted);
  float* state = ctx.thread_region(thread, ctx.layout.state);
  float* dt = ctx.thread_region(thread, ctx.layout.dt);
  double* cumsum = reinterpret_cast<double*>(ctx.thread_region(thread, ctx.layout.cumsum));
  float* weight = ctx.thread_region(thread, ctx.layout.weight);
  float* decay = ctx.thread_region(thread, ctx.layout.decay);
  float* scratch = ctx.thread_region(thread, ctx.layout.scratch);

  const int64_t slot = ctx.batch->slots[static_cast<size_t>(sequence)];
  char* slot_head = ctx.states + (slot * ctx.slot_stride + head * np * ns) *
                                     static_cast<int64_t>(dtype_size(ctx.state_dtype));
  // A zero state lets the first chunk skip its off-diagonal product and state decay.
  bool state_is_zero = !ctx.batch->has_initial_state[static_cast<size_t>(sequence)];
  if (state_is_zero) {
    std::fill(state, state + ns * np, 0.0f);
  } else {
    load_state(ctx, slot_head, state);
  }
  capture_state(ctx, sequence, head, 0, state);

  const int64_t first = ctx.first_chunk()[sequence], last = ctx.first_chunk()[sequence + 1];
  int64_t offset = 0;
  for (int64_t chunk = first; chunk < last; ++chunk) {
    const ChunkInfo info = ctx.chunks()[chunk];
    const int64_t len = info.length;
    const float* x = ctx.x + info.begin * ctx.ldx + head * np;
    const float* c = ctx.c + info.begin * ctx.ldc + group * ns;
    float* y = ctx.y + info.begin * ctx.ldy + head * np;
    const float* cb = ctx.cb(chunk, group);

    // Discretisation: dt, then the running sum of dt·A, non-increasing, so every difference below is <= 0.
    // It is summed in double: over a 256-token chunk it can reach -2500, where a float's ulp (2.4e-4) would
    // be the error of every decay exp(cs_t − cs_s) taken as a difference of two sums.
    double running = 0.0;
    for (int64_t s = 0; s < len; ++s) {
      float v = ctx.dt[(info.begin + s) * ctx.lddt + head] + bias;
      if (p.dt_softplus) v = softplus(v);
      v = std::min(std::max(v, p.dt_min), p.dt_max);
      dt[s] = v;
      running += static_cast<double>(v * a_head);
      cumsum[s] = running;
    }
    for (int64_t s = 0; s < len; ++s) scratch[s] = static_cast<float>(cumsum[s]);
    ssd_exp_nonpositive(scratch, decay, len);  // exp(cs_t): decay of the entering state to token t
    for (int64_t s = 0; s < len; ++s) scratch[s] = static_cast<float>(cumsum[len - 1] - cumsum[s]);
    ssd_exp_nonpositive(scratch, weight, len);
    for (int64_t s = 0; s < len; ++s) weight[s] *= dt[s];  // exp(cs_last − cs_s)·dt_s

    // y = exp(cs_t)·C_t·S + D·x_t (the entering state's contribution and the skip).
    if (state_is_zero) {
      for (int64_t t = 0; t < len; ++t)
        for (int64_t i = 0; i < np; ++i) y[t * ctx.ldy + i] = d_head * x[t * ctx.ldx + i];
    } else {
      ssd_gemm(len, np, ns, c, ctx.ldc, state, np, y, ctx.ldy, /*accumulate=*/false);
      for (int64_t t = 0; t < len; ++t)
        for (int64_t i = 0; i < np; ++i)
          y[t * ctx.ldy + i] = y[t * ctx.ldy + i] * decay[t] + d_head * x[t * ctx.ldx + i];
    }

    // Intra-chunk: M[t][s] = (C_t·B_s)·exp(cs_t − cs_s)·dt_s for s <= t, zero-filled to the vector edge
    // (the causal gemm reads each row up to its 8-row block's end); y += M·x.
    for (int64_t t = 0; t < len; ++t) {
      float* row = masked_cb + t * q_pad;
      for (int64_t s = 0; s <= t; ++s) scratch[s] = static_cast<float>(cumsum[t] - cumsum[s]);
      ssd_exp_nonpositive(scratch, scratch, t + 1);
      const float* cb_row = cb + t * q_pad;
      for (int64_t s = 0; s <= t; ++s) row[s] = cb_row[s] * scratch[s] * dt[s];
      const int64_t width = std::min(q_pad, round_up(t + 1, 16));
      std::fill(row + t + 1, row + width, 0.0f);
    }
    ssd_gemm(len, np, len, masked_cb, q_pad, x, ctx.ldx, y, ctx.ldy, /*accumulate=*/true,
             GemmCausal::k_through_row);

    // State passing: S' = exp(cs_last)·S + Bᵀ·(weight ∘ x).
    for (int64_t s = 0; s < len; ++s)
      for (int64_t i = 0; i < np; ++i) x_weighted[s * np + i] = x[s * ctx.ldx + i] * weight[s];
    if (!state_is_zero) {
      const float chunk_decay = decay[len - 1];
      for (int64_t i = 0; i < ns * np; ++i) state[i] *= chunk_decay;
    }
    ssd_gemm(ns, np, len, ctx.b_transposed(chunk, group), q_pad, x_weighted, np, state, np,
             /*accumulate=*/!state_is_zero);
    state_is_zero = false;
    offset += len;
    capture_state(ctx, sequence, head, offset, state);
  }
  store_state(ctx, state, slot_head, ctx.state_dtype);
}

// Flushes denormals to zero on this thread while in scope, then restores the caller's mode. Decays such as
// exp(cs_t) underflow into the denormal range all the time over a 256-token chunk, and on Intel cores
// every FMA touching a denormal takes a microcode assist (the whole scan measured 6.5× slower on a
// Xeon); values that small (< 1.2e-38) are far below f32 resolution of the terms they are summed with.
class FlushDenormals {
 public:
#if defined(__SSE__)
  FlushDenormals() : saved_(_mm_getcsr()) { _mm_setcsr(saved_ | kFlushToZero | kDenormalsAreZero); }
  ~FlushDenormals() { _mm_setcsr(saved_); }

 private:
  static constexpr unsigned kFlushToZero = 0x8000, kDenormalsAreZero = 0x0040;
  unsigned saved_;
#endif
};

// Runs fn(thread, item) for items [0, count), handed out one at a time from a shared counter.
template <typename Fn>
void run_dynamic(ThreadPool& pool, int threads, int64_t count, const Fn& fn) {
  std::atomic<int64_t> next{0};
  const int used = static_cast<int>(std::min<int64_t>(threads, count));
  if (used <= 0) return;
  pool.parallel_for(used, [&](int64_t begin, int64_t end) {
    const FlushDenormals flush;
    for (int64_t thread = begin; thread < end; ++thread) {
      for (int64_t item = next.fetch_add(1); item < count; item = next.fetch_add(1))
        fn(static_cast<int>(thread), item);
    }
  });
}

}  // namespace

}  // namespace strata::kernels::cpu

// Operand checks are device-neutral: one definition, declared in the neutral header. It shares this
// file's helpers.
namespace strata::kernels {

using namespace cpu;

size_t ssd_workspace_bytes(const SsdParams& params, int64_t num_tokens, int64_t num_sequences, int threads,
                           Device device) {
  if (device == Device::cuda) return cuda::plan_ssd(params, num_tokens, num_sequences).total;
  return plan(params, num_tokens, num_sequences, threads).total;
}

}  // namespace strata::kernels

namespace strata::kernels::cpu {

void ssd_scan(const SsdParams& params, const SsdInputs& inputs, const VarlenBatch& batch, Tensor ssm_states,
              Tensor y, std::span<const SsdCapture> captures, void* workspace, size_t /*workspace_bytes*/,
              ThreadPool& pool) {
  const int64_t num_sequences = batch.num_sequences();
  const int threads = pool.size();
  Context ctx;
  ctx.p = params;
  ctx.layout = plan(params, batch.num_tokens(), num_sequences, threads);
  const uintptr_t raw = reinterpret_cast<uintptr_t>(workspace);
  ctx.base = reinterpret_cast<char*>((raw + kAlign - 1) / kAlign * kAlign);
  ctx.x = inputs.x.ptr<const float>();
  ctx.dt = inputs.dt.ptr<const float>();
  ctx.b = inputs.B.ptr<const float>();
  ctx.c = inputs.C.ptr<const float>();
  ctx.a = inputs.A.ptr<const float>();
  ctx.d = inputs.D.ptr<const float>();
  ctx.dt_bias = inputs.dt_bias.ptr<const float>();
  ctx.ldx = inputs.x.stride(0);
  ctx.lddt = inputs.dt.stride(0);
  ctx.ldb = inputs.B.stride(0);
  ctx.ldc = inputs.C.stride(0);
  ctx.y = y.ptr<float>();
  ctx.ldy = y.stride(0);
  ctx.states = static_cast<char*>(ssm_states.data);
  ctx.state_dtype = ssm_states.dtype;
  ctx.slot_stride = ssm_states.stride(0);
  ctx.batch = &batch;
  ctx.captures = captures;

  // Chunk table: chunks restart at every sequence's first token.
  auto* chunks = reinterpret_cast<ChunkInfo*>(ctx.base + ctx.layout.chunks);
  auto* first_chunk = reinterpret_cast<int64_t*>(ctx.base + ctx.layout.first_chunk);
  int64_t num_chunks = 0;
  for (int64_t i = 0; i < num_sequences; ++i) {
    first_chunk[i] = num_chunks;
    for (int64_t start = 0; start < batch.length(i); start += params.chunk_size)
      chunks[num_chunks++] = {batch.begin(i) + start, std::min(params.chunk_size, batch.length(i) - start)};
  }
  first_chunk[num_sequences] = num_chunks;

  // Longest sequences first, so the dynamic hand-out ends with short items and threads finish together.
  // (std::sort, not stable_sort: the latter may allocate; the index tie-break keeps the order fixed.)
  auto* order = reinterpret_cast<int64_t*>(ctx.base + ctx.layout.order);
  for (int64_t i = 0; i < num_sequences; ++i) order[i] = i;
  std::sort(order, order + num_sequences, [&](int64_t lhs, int64_t rhs) {
    const int64_t lhs_length = batch.length(lhs), rhs_length = batch.length(rhs);
    return lhs_length != rhs_length ? lhs_length > rhs_length : lhs < rhs;
  });

  run_dynamic(pool, threads, num_chunks * params.n_groups, [&](int, int64_t item) {
    chunk_group_products(ctx, item / params.n_groups, item % params.n_groups);
  });
  run_dynamic(pool, threads, num_sequences * params.n_heads, [&](int thread, int64_t item) {
    scan_sequence_head(ctx, thread, order[item / params.n_heads], item % params.n_heads);
  });
}

}  // namespace strata::kernels::cpu
