#include "strata/kernels/cpu/conv1d.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "strata/core/error.h"
#include "strata/kernels/cpu/activations.h"
#include "strata/kernels/cpu/row_copy.h"
#include "strata/kernels/cpu/varlen_check.h"

namespace strata::kernels::cpu {
namespace {

// 64 channels = 4 AVX-512 vectors: big enough to stream, small enough that the transposed weights
// (K x 64) and the history rows live on the stack of one work item.
constexpr int64_t kChannelBlock = 64;
constexpr int64_t kMaxWidth = 8;
// Tokens per prefill work item: enough work per item to amortise the weight transpose.
constexpr int64_t kTokenTile = 16;

// Weights and bias of one channel block, transposed tap-major so a vector load covers 16 channels.
struct BlockWeights {
  float taps[kMaxWidth][kChannelBlock];
  float bias[kChannelBlock];
};

void load_block_weights(const Tensor& weight, const Tensor& bias, int64_t kernel_width, int64_t c0,
                        int64_t width, BlockWeights& block) {
  const float* w = weight.ptr<float>();
  for (int64_t c = 0; c < width; ++c)
    for (int64_t tap = 0; tap < kernel_width; ++tap)
      block.taps[tap][c] = w[(c0 + c) * weight.stride(0) + tap * weight.stride(1)];
  for (int64_t c = 0; c < width; ++c)
    block.bias[c] = bias.data ? bias.ptr<float>()[(c0 + c) * bias.stride(0)] : 0.0f;
}

// out[c] = act(bias[c] + sum_tap taps[tap][c] * rows[tap][c]); rows[K-1] is the current token.
void conv_block(const float* const* rows, const BlockWeights& block, int64_t kernel_width,
                int64_t width, bool apply_silu, float* out) {
  int64_t c = 0;
#if defined(__AVX512F__)
  for (; c + 16 <= width; c += 16) {
    __m512 acc = _mm512_loadu_ps(block.bias + c);
    for (int64_t tap = 0; tap < kernel_width; ++tap)
      acc = _mm512_fmadd_ps(_mm512_loadu_ps(block.taps[tap] + c), _mm512_loadu_ps(rows[tap] + c), acc);
    _mm512_storeu_ps(out + c, apply_silu ? silu_ps(acc) : acc);
  }
#endif
  for (; c < width; ++c) {
    float acc = block.bias[c];
    for (int64_t tap = 0; tap < kernel_width; ++tap) acc = std::fma(block.taps[tap][c], rows[tap][c], acc);
    out[c] = apply_silu ? silu(acc) : acc;
  }
}

template <typename StateT>
StateT* state_row(const Tensor& conv_state, int64_t slot, int64_t row, int64_t c0) {
  return conv_state.ptr<StateT>() + slot * conv_state.stride(0) + row * conv_state.stride(1) + c0;
}

// The K-1 rows preceding a sequence for one channel block, as f32: the slot's state or zeros.
template <typename StateT>
void load_history(const Tensor& conv_state, int64_t slot, bool has_initial_state, int64_t rows,
                  int64_t c0, int64_t width, float (*history)[kChannelBlock]) {
  for (int64_t r = 0; r < rows; ++r) {
    if (has_initial_state)
      load_row(history[r], state_row<StateT>(conv_state, slot, r, c0), width);
    else
      std::fill_n(history[r], width, 0.0f);
  }
}

template <typename StateT>
void prefill_outputs(const CausalConv1dParams& params, const Tensor& x, const Tensor& weight,
                     const Tensor& bias, const VarlenBatch& batch, const Tensor& conv_state,
                     const Tensor& out, ThreadPool& pool) {
  const int64_t K = params.kernel_width;
  const int64_t num_tokens = batch.num_tokens();
  const int64_t channel_blocks = (params.conv_dim + kChannelBlock - 1) / kChannelBlock;
  const int64_t token_tiles = (num_tokens + kTokenTile - 1) / kTokenTile;
  pool.parallel_for(token_tiles * channel_blocks, [&](int64_t item_begin, int64_t item_end) {
    BlockWeights block;
    float history[kMaxWidth - 1][kChannelBlock];
    const float* rows[kMaxWidth];
    int64_t loaded_block = -1;
    for (int64_t item = item_begin; item < item_end; ++item) {
      const int64_t tile = item / channel_blocks, cb = item % channel_blocks;
      const int64_t c0 = cb * kChannelBlock;
      const int64_t width = std::min(kChannelBlock, params.conv_dim - c0);
      if (cb != loaded_block) {
        load_block_weights(weight, bias, K, c0, width, block);
        loaded_block = cb;
      }
      const int64_t t0 = tile * kTokenTile, t1 = std::min(num_tokens, t0 + kTokenTile);
      // The sequence holding t0: the last one whose begin is <= t0 (skips empty sequences).
      int64_t seq = std::upper_bound(batch.cu_seqlens.begin(), batch.cu_seqlens.end(), t0) -
                    batch.cu_seqlens.begin() - 1;
      int64_t history_seq = -1;
      for (int64_t t = t0; t < t1; ++t) {
        while (t >= batch.begin(seq + 1)) ++seq;  // cu_seqlens ends at num_tokens > t
        const int64_t begin = batch.begin(seq);
        if (t - (K - 1) < begin && history_seq != seq) {
          load_history<StateT>(conv_state, batch.slots[static_cast<size_t>(seq)],
                               batch.has_initial_state[static_cast<size_t>(seq)] != 0, K - 1, c0,
                               width, history);
          history_seq = seq;
        }
        for (int64_t tap = 0; tap < K; ++tap) {
          const int64_t source = t - (K - 1 - tap);
          rows[tap] = source >= begin ? x.ptr<float>() + source * x.stride(0) + c0
                                      : history[(K - 1) - (begin - source)];
        }
        conv_block(rows, block, K, width, params.silu, out.ptr<float>() + t * out.stride(0) + c0);
      }
    }
  });
}

// After all outputs are computed: each slot keeps the last K-1 rows of (its old rows, the sequence).
template <typename StateT>
void prefill_states(const CausalConv1dParams& params, const Tensor& x, const VarlenBatch& batch,
                    const Tensor& conv_state, ThreadPool& pool) {
  const int64_t K = params.kernel_width;
  const int64_t channel_blocks = (params.conv_dim + kChannelBlock - 1) / kChannelBlock;
  pool.parallel_for(batch.num_sequences() * channel_blocks, [&](int64_t item_begin, int64_t item_end) {
    for (int64_t item = item_begin; item < item_end; ++item) {
      const int64_t seq = item / channel_blocks, c0 = (item % channel_blocks) * kChannelBlock;
      const int64_t width = std::min(kChannelBlock, params.conv_dim - c0);
      const int64_t slot = batch.slots[static_cast<size_t>(seq)];
      const bool has_initial = batch.has_initial_state[static_cast<size_t>(seq)] != 0;
      const int64_t begin = batch.begin(seq), length = batch.length(seq);
      // Ascending r reads old row r + length before anything overwrites it.
      for (int64_t r = 0; r < K - 1; ++r) {
        StateT* dst = state_row<StateT>(conv_state, slot, r, c0);
        const int64_t source = length - (K - 1) + r;
        if (source >= 0)
          store_row(dst, x.ptr<float>() + (begin + source) * x.stride(0) + c0, width);
        else if (has_initial)
          std::memmove(dst, state_row<StateT>(conv_state, slot, r + length, c0), width * sizeof(StateT));
        else
          std::fill_n(dst, width, StateT{});
      }
    }
  });
}

template <typename StateT>
void decode(const CausalConv1dParams& params, const Tensor& x, const Tensor& weight, const Tensor& bias,
            const VarlenBatch& batch, const Tensor& conv_state, const Tensor& intermediate,
            const Tensor& out, ThreadPool& pool) {
  const int64_t K = params.kernel_width;
  const int64_t channel_blocks = (params.conv_dim + kChannelBlock - 1) / kChannelBlock;
  pool.parallel_for(batch.num_sequences() * channel_blocks, [&](int64_t item_begin, int64_t item_end) {
    BlockWeights block;
    float history[kMaxWidth - 1][kChannelBlock];
    const float* rows[kMaxWidth];
    for (int64_t item = item_begin; item < item_end; ++item) {
      const int64_t seq = item / channel_blocks, c0 = (item % channel_blocks) * kChannelBlock;
      const int64_t width = std::min(kChannelBlock, params.conv_dim - c0);
      const int64_t slot = batch.slots[static_cast<size_t>(seq)];
      const int64_t begin = batch.begin(seq), length = batch.length(seq);
      if (slot < 0) {
        for (int64_t j = 0; j < length; ++j)
          std::fill_n(out.ptr<float>() + (begin + j) * out.stride(0) + c0, width, 0.0f);
        continue;
      }
      load_block_weights(weight, bias, K, c0, width, block);
      load_history<StateT>(conv_state, slot, batch.has_initial_state[static_cast<size_t>(seq)] != 0,
                           K - 1, c0, width, history);
      for (int64_t tap = 0; tap < K - 1; ++tap) rows[tap] = history[tap];
      for (int64_t j = 0; j < length; ++j) {
        const float* current = x.ptr<float>() + (begin + j) * x.stride(0) + c0;
        rows[K - 1] = current;
        conv_block(rows, block, K, width, params.silu, out.ptr<float>() + (begin + j) * out.stride(0) + c0);
        for (int64_t r = 0; r + 1 < K - 1; ++r) std::copy_n(history[r + 1], width, history[r]);
        // Carry what the state would hold after a store, so verify == a chain of one-token calls.
        const StateT* storage_kind = nullptr;
        for (int64_t c = 0; c < width; ++c) history[K - 2][c] = round_trip(current[c], storage_kind);
        if (intermediate.data) {
          StateT* base = intermediate.ptr<StateT>() + seq * intermediate.stride(0) + j * intermediate.stride(1) + c0;
          for (int64_t r = 0; r < K - 1; ++r) store_row(base + r * intermediate.stride(2), history[r], width);
        }
      }
      for (int64_t r = 0; r < K - 1; ++r) store_row(state_row<StateT>(conv_state, slot, r, c0), history[r], width);
    }
  });
}

// Tensors may live on either device (the neutral entry point dispatches), but all on x's; the check reads
// shapes and strides only, never the data.
void check_tensor(std::string_view name, const Tensor& t, DType dtype, std::initializer_list<int64_t> shape,
                  Device device) {
  bool ok = t.data != nullptr && t.dtype == dtype && t.ndim == static_cast<int>(shape.size()) &&
            t.device == device;
  int d = 0;
  for (int64_t s : shape) {
    if (ok && t.shape[static_cast<size_t>(d)] != s) ok = false;
    ++d;
  }
  std::string expected = fmt::format("{}[", dtype_name(dtype));
  d = 0;
  for (int64_t s : shape) expected += fmt::format("{}{}", d++ ? ", " : "", s);
  expected += "]";
  if (!ok)
    fail("causal_conv1d: {} is {} on {}, expected {} on {}", name, t.data ? t.describe() : "absent",
         device_name(t.device), expected, device_name(device));
  if (t.stride(-1) != 1) fail("causal_conv1d: {} must have contiguous channels (last stride 1), got stride {}", name, t.stride(-1));
}

}  // namespace

}  // namespace strata::kernels::cpu

// Operand checks are device-neutral: one definition, declared in the neutral header. It shares this
// file's helpers.
namespace strata::kernels {

using namespace cpu;

void check_causal_conv1d(const CausalConv1dParams& params, const Tensor& x, const Tensor& weight,
                         const Tensor& bias, const VarlenBatch& batch, const Tensor& conv_state,
                         const Tensor& intermediate, const Tensor& out, bool decode) {
  const int64_t K = params.kernel_width, C = params.conv_dim;
  if (K < 2 || K > kMaxWidth) fail("causal_conv1d: kernel_width {} is outside the supported 2..{}", K, kMaxWidth);
  if (C <= 0) fail("causal_conv1d: conv_dim must be positive, got {}", C);
  const int64_t T = x.ndim == 2 ? x.shape[0] : -1;
  check_tensor("x", x, DType::f32, {T, C}, x.device);
  if (weight.data && weight.ndim == 2 && weight.stride(1) != 1 && weight.shape[1] > 1)
    fail("causal_conv1d: weight taps must be contiguous, got strides [{}, {}]", weight.stride(0), weight.stride(1));
  check_tensor("weight", weight, DType::f32, {C, K}, x.device);
  if (bias.data) check_tensor("bias", bias, DType::f32, {C}, x.device);
  if (conv_state.dtype != DType::f32 && conv_state.dtype != DType::bf16)
    fail("causal_conv1d: conv_state is {}, expected f32 or bf16", conv_state.describe());
  const int64_t num_slots = conv_state.ndim == 3 ? conv_state.shape[0] : -1;
  check_tensor("conv_state", conv_state, conv_state.dtype, {num_slots, K - 1, C}, x.device);
  check_tensor("out", out, DType::f32, {T, C}, x.device);
  check_varlen_batch(decode ? "causal_conv1d_decode" : "causal_conv1d_prefill", batch, T, num_slots, decode);
  if (intermediate.data) {
    if (!decode) fail("causal_conv1d: intermediate states are only written by the decode/verify form");
    const int64_t steps = intermediate.ndim == 4 ? intermediate.shape[1] : -1;
    check_tensor("intermediate", intermediate, conv_state.dtype, {batch.num_sequences(), steps, K - 1, C}, x.device);
    if (steps < max_sequence_length(batch))
      fail("causal_conv1d: intermediate holds {} steps per sequence but a sequence has {} tokens", steps,
           max_sequence_length(batch));
  }
}

}  // namespace strata::kernels

namespace strata::kernels::cpu {

void causal_conv1d_prefill(const CausalConv1dParams& params, const Tensor& x, const Tensor& weight,
                           const Tensor& bias, const VarlenBatch& batch, const Tensor& conv_state,
                           const Tensor& out, ThreadPool& pool) {
  if (conv_state.dtype == DType::bf16) {
    prefill_outputs<uint16_t>(params, x, weight, bias, batch, conv_state, out, pool);
    prefill_states<uint16_t>(params, x, batch, conv_state, pool);
  } else {
    prefill_outputs<float>(params, x, weight, bias, batch, conv_state, out, pool);
    prefill_states<float>(params, x, batch, conv_state, pool);
  }
}

void causal_conv1d_decode(const CausalConv1dParams& params, const Tensor& x, const Tensor& weight,
                          const Tensor& bias, const VarlenBatch& batch, const Tensor& conv_state,
                          const Tensor& intermediate, const Tensor& out, ThreadPool& pool) {
  if (conv_state.dtype == DType::bf16)
    decode<uint16_t>(params, x, weight, bias, batch, conv_state, intermediate, out, pool);
  else
    decode<float>(params, x, weight, bias, batch, conv_state, intermediate, out, pool);
}

}  // namespace strata::kernels::cpu
