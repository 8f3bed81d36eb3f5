#include "strata/kernels/cpu/state_update.h"

#include <algorithm>
#include <cmath>
#include <type_traits>

#include "strata/core/error.h"
#include "strata/kernels/cpu/activations.h"
#include "strata/kernels/cpu/row_copy.h"
#include "strata/kernels/cpu/varlen_check.h"

namespace strata::kernels::cpu {
namespace {

// Per-token dt and decay are computed once per head for this many tokens, then reused by all P rows.
constexpr int64_t kTokenChunk = 16;

// Where a row goes after a token: into the f32 carry row (rounded to what StateT storage would hold,
// so a multi-token call equals a chain of one-token calls) or straight into storage.
template <typename StateT>
inline float carry(float v, float*) { return round_trip(v, static_cast<const StateT*>(nullptr)); }
template <typename StateT>
inline void put1(float* out, float v) { *out = carry<StateT>(v, out); }
template <typename StateT>
inline void put1(uint16_t* out, float v) { store_x1(out, v); }
#if defined(__AVX512F__)
template <typename StateT>
inline void put16(float* out, __m512 v) { _mm512_storeu_ps(out, round_trip_x16(v, static_cast<const StateT*>(nullptr))); }
template <typename StateT>
inline void put16(uint16_t* out, __m512 v) { store_x16(out, v); }
#endif

// One token of one state row: out = decay·in + xdt·B, returns out·C computed from the unrounded f32
// values (mamba_ssm's order). `in` and `out` may be the same row; each is f32 or the storage type,
// so a one-token bf16 update converts in registers without a staging copy.
template <typename StateT, typename InT, typename OutT>
inline float row_step(const InT* in, OutT* out, int64_t N, float decay, float xdt, const float* B, const float* C) {
  int64_t n = 0;
  float y = 0.0f;
#if defined(__AVX512F__)
  // Two accumulators halve the dependent FMA chain of the dot product.
  __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
  const __m512 vdecay = _mm512_set1_ps(decay), vxdt = _mm512_set1_ps(xdt);
  for (; n + 32 <= N; n += 32) {
    const __m512 s0 = _mm512_fmadd_ps(load_x16(in + n), vdecay, _mm512_mul_ps(_mm512_loadu_ps(B + n), vxdt));
    const __m512 s1 = _mm512_fmadd_ps(load_x16(in + n + 16), vdecay, _mm512_mul_ps(_mm512_loadu_ps(B + n + 16), vxdt));
    acc0 = _mm512_fmadd_ps(s0, _mm512_loadu_ps(C + n), acc0);
    acc1 = _mm512_fmadd_ps(s1, _mm512_loadu_ps(C + n + 16), acc1);
    put16<StateT>(out + n, s0);
    put16<StateT>(out + n + 16, s1);
  }
  for (; n + 16 <= N; n += 16) {
    const __m512 s0 = _mm512_fmadd_ps(load_x16(in + n), vdecay, _mm512_mul_ps(_mm512_loadu_ps(B + n), vxdt));
    acc0 = _mm512_fmadd_ps(s0, _mm512_loadu_ps(C + n), acc0);
    put16<StateT>(out + n, s0);
  }
  y = hsum_ps(_mm512_add_ps(acc0, acc1));
#endif
  for (; n < N; ++n) {
    const float s = std::fma(load_x1(in + n), decay, B[n] * xdt);
    y = std::fma(s, C[n], y);
    put1<StateT>(out + n, s);
  }
  return y;
}

template <typename StateT>
void update(const SelectiveStateUpdateParams& params, const SelectiveStateUpdateInputs& in,
            const SelectiveStateUpdateWeights& weights, const VarlenBatch& batch, const Tensor& ssm_state,
            const Tensor& intermediate, const Tensor& y, ThreadPool& pool) {
  const int64_t H = params.n_heads, P = params.head_dim, N = params.state_size;
  const int64_t heads_per_group = H / params.n_groups;
  pool.parallel_for(batch.num_sequences() * H, [&](int64_t item_begin, int64_t item_end) {
    alignas(64) float row[kMaxStateDim];
    float dt_token[kTokenChunk], decay[kTokenChunk];
    for (int64_t item = item_begin; item < item_end; ++item) {
      const int64_t seq = item / H, h = item % H, g = h / heads_per_group;
      const int64_t slot = batch.slots[static_cast<size_t>(seq)];
      const int64_t begin = batch.begin(seq), length = batch.length(seq);
      auto y_head = [&](int64_t j) { return y.ptr<float>() + (begin + j) * y.stride(0) + h * P; };
      if (slot < 0) {
        for (int64_t j = 0; j < length; ++j) std::fill_n(y_head(j), P, 0.0f);
        continue;
      }
      const float A = weights.A.ptr<float>()[h * weights.A.stride(0)];
      const float D = weights.D.data ? weights.D.ptr<float>()[h * weights.D.stride(0)] : 0.0f;
      const float dt_bias = weights.dt_bias.data ? weights.dt_bias.ptr<float>()[h * weights.dt_bias.stride(0)] : 0.0f;
      const bool has_initial = batch.has_initial_state[static_cast<size_t>(seq)] != 0;
      StateT* state_head = ssm_state.ptr<StateT>() + slot * ssm_state.stride(0) + h * ssm_state.stride(1);
      for (int64_t j0 = 0; j0 < length; j0 += kTokenChunk) {
        const int64_t j1 = std::min(length, j0 + kTokenChunk);
        for (int64_t j = j0; j < j1; ++j) {
          float dt = in.dt.ptr<float>()[(begin + j) * in.dt.stride(0) + h * in.dt.stride(1)] + dt_bias;
          if (params.dt_softplus) dt = softplus(dt);
          dt = std::min(std::max(dt, params.dt_min), params.dt_max);
          dt_token[j - j0] = dt;
          decay[j - j0] = std::exp(dt * A);
        }
        for (int64_t p = 0; p < P; ++p) {
          StateT* state_row = state_head + p * ssm_state.stride(2);
          // An f32 pool is updated in place. A bf16 row is read from storage by the first token, carried
          // in `row` (f32, rounded) between tokens, and written back by the last.
          const bool zero_start = j0 == 0 && !has_initial;
          if (zero_start) std::fill_n(row, N, 0.0f);
          for (int64_t j = j0; j < j1; ++j) {
            const int64_t t = begin + j;
            const float xv = in.x.ptr<float>()[t * in.x.stride(0) + h * P + p];
            const float* B = in.B.ptr<float>() + t * in.B.stride(0) + g * N;
            const float* C = in.C.ptr<float>() + t * in.C.stride(0) + g * N;
            const float decay_j = decay[j - j0], xdt = xv * dt_token[j - j0];
            const bool from_storage = j > j0 || !zero_start;
            const bool to_storage = j + 1 == j1;
            float dot;
            if constexpr (std::is_same_v<StateT, float>) {
              dot = row_step<StateT>(from_storage ? state_row : row, state_row, N, decay_j, xdt, B, C);
            } else if (from_storage && j == j0) {
              dot = to_storage ? row_step<StateT>(state_row, state_row, N, decay_j, xdt, B, C)
                               : row_step<StateT>(state_row, row, N, decay_j, xdt, B, C);
            } else {
              dot = to_storage ? row_step<StateT>(row, state_row, N, decay_j, xdt, B, C)
                               : row_step<StateT>(row, row, N, decay_j, xdt, B, C);
            }
            y_head(j)[p] = std::fma(D, xv, dot);
            if (intermediate.data) {
              StateT* inter = intermediate.ptr<StateT>() + seq * intermediate.stride(0) + j * intermediate.stride(1) +
                              h * intermediate.stride(2) + p * intermediate.stride(3);
              if (std::is_same_v<StateT, float> || to_storage)
                std::copy_n(state_row, N, inter);
              else
                store_row(inter, row, N);  // exact: `row` already holds bf16-representable values
            }
          }
        }
      }
    }
  });
}

// Tensors may live on either device (the neutral entry point dispatches), but all on x's; the check reads
// shapes and strides only, never the data.
void check_view(std::string_view name, const Tensor& t, DType dtype, std::initializer_list<int64_t> shape,
                Device device) {
  bool ok = t.data != nullptr && t.dtype == dtype && t.ndim == static_cast<int>(shape.size()) &&
            t.device == device;
  std::string expected = fmt::format("{}[", dtype_name(dtype));
  int d = 0;
  for (int64_t s : shape) {
    if (ok && t.shape[static_cast<size_t>(d)] != s) ok = false;
    expected += fmt::format("{}{}", d++ ? ", " : "", s);
  }
  expected += "]";
  if (!ok)
    fail("selective_state_update: {} is {} on {}, expected {} on {}", name, t.data ? t.describe() : "absent",
         device_name(t.device), expected, device_name(device));
  if (t.ndim >= 2 && t.stride(-1) != 1)
    fail("selective_state_update: {} must be contiguous along its last axis, got stride {}", name, t.stride(-1));
}

}  // namespace

}  // namespace strata::kernels::cpu

// Operand checks are device-neutral: one definition, declared in the neutral header. It shares this
// file's helpers.
namespace strata::kernels {

using namespace cpu;

void check_selective_state_update(const SelectiveStateUpdateParams& params,
                                  const SelectiveStateUpdateInputs& inputs,
                                  const SelectiveStateUpdateWeights& weights, const VarlenBatch& batch,
                                  const Tensor& ssm_state, const Tensor& intermediate, const Tensor& y) {
  const int64_t H = params.n_heads, P = params.head_dim, N = params.state_size, G = params.n_groups;
  if (H <= 0 || P <= 0 || N <= 0 || G <= 0)
    fail("selective_state_update: num_heads, head_dim, state_dim and n_groups must be positive, got {}, {}, {}, {}",
         H, P, N, G);
  if (H % G != 0) fail("selective_state_update: num_heads {} is not a multiple of n_groups {}", H, G);
  if (N > kMaxStateDim) fail("selective_state_update: state_dim {} exceeds the supported {}", N, kMaxStateDim);
  if (params.dt_min > params.dt_max)
    fail("selective_state_update: dt limits ({}, {}) are inverted", params.dt_min, params.dt_max);
  const int64_t T = inputs.x.ndim == 2 ? inputs.x.shape[0] : -1;
  check_view("x", inputs.x, DType::f32, {T, H * P}, inputs.x.device);
  check_view("dt", inputs.dt, DType::f32, {T, H}, inputs.x.device);
  check_view("B", inputs.B, DType::f32, {T, G * N}, inputs.x.device);
  check_view("C", inputs.C, DType::f32, {T, G * N}, inputs.x.device);
  check_view("A", weights.A, DType::f32, {H}, inputs.x.device);
  if (weights.D.data) check_view("D", weights.D, DType::f32, {H}, inputs.x.device);
  if (weights.dt_bias.data) check_view("dt_bias", weights.dt_bias, DType::f32, {H}, inputs.x.device);
  if (ssm_state.dtype != DType::f32 && ssm_state.dtype != DType::bf16)
    fail("selective_state_update: ssm_state is {}, expected f32 or bf16", ssm_state.describe());
  const int64_t num_slots = ssm_state.ndim == 4 ? ssm_state.shape[0] : -1;
  check_view("ssm_state", ssm_state, ssm_state.dtype, {num_slots, H, P, N}, inputs.x.device);
  check_view("y", y, DType::f32, {T, H * P}, inputs.x.device);
  check_varlen_batch("selective_state_update", batch, T, num_slots, /*allow_padding_slots=*/true);
  if (intermediate.data) {
    const int64_t steps = intermediate.ndim == 5 ? intermediate.shape[1] : -1;
    check_view("intermediate", intermediate, ssm_state.dtype, {batch.num_sequences(), steps, H, P, N}, inputs.x.device);
    if (steps < max_sequence_length(batch))
      fail("selective_state_update: intermediate holds {} steps per sequence but a sequence has {} tokens", steps,
           max_sequence_length(batch));
  }
}

}  // namespace strata::kernels

namespace strata::kernels::cpu {

void selective_state_update(const SelectiveStateUpdateParams& params,
                            const SelectiveStateUpdateInputs& inputs,
                            const SelectiveStateUpdateWeights& weights, const VarlenBatch& batch,
                            const Tensor& ssm_state, const Tensor& intermediate, const Tensor& y,
                            ThreadPool& pool) {
  if (ssm_state.dtype == DType::bf16)
    update<uint16_t>(params, inputs, weights, batch, ssm_state, intermediate, y, pool);
  else
    update<float>(params, inputs, weights, batch, ssm_state, intermediate, y, pool);
}

}  // namespace strata::kernels::cpu
