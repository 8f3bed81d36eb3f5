// Causal conv1d on CUDA. Every kernel gives one thread one channel (consecutive threads take consecutive
// channels, so each token row is read and written coalesced) and walks tokens with the K-1 preceding
// inputs in registers (the width K is a template argument so the window never spills).
#include "strata/kernels/cuda/conv1d.h"

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <type_traits>

#include "strata/core/cuda_context.h"
#include "strata/kernels/cuda/state_storage.cuh"
#include "strata/kernels/cuda/launch.cuh"

namespace strata::kernels::cuda {
namespace {

namespace storage = state_storage;

constexpr int kThreads = 128;   // channels per block
constexpr int kTokenTile = 32;  // prefill tokens per thread: amortises the window warm-up (K-1 loads)

struct ConvArgs {
  const float* x = nullptr;
  int64_t x_stride = 0;
  const float* weight = nullptr;
  int64_t weight_stride = 0;
  const float* bias = nullptr;  // nullptr: no bias
  void* state = nullptr;
  int64_t state_slot_stride = 0, state_row_stride = 0;
  void* intermediate = nullptr;  // nullptr: none
  int64_t inter_seq_stride = 0, inter_step_stride = 0, inter_row_stride = 0;
  float* out = nullptr;
  int64_t out_stride = 0;
  const int64_t* cu_seqlens = nullptr;
  const int32_t* slots = nullptr;
  const uint8_t* has_initial = nullptr;
  int64_t row_offset = 0;
  int num_sequences = 0;
  int channels = 0;
  int64_t num_tokens = 0;
  bool silu = true;
};

__device__ __forceinline__ float silu(float v) { return v / (1.0f + expf(-v)); }

// bias + sum_tap w[tap]·window[tap] + w[K-1]·current, in the CPU's tap order (one fma per tap).
template <int K>
__device__ __forceinline__ float conv_at(const float (&w)[K], float bias, const float (&window)[K - 1],
                                         float current, bool apply_silu) {
  float acc = bias;
#pragma unroll
  for (int tap = 0; tap < K - 1; ++tap) acc = fmaf(w[tap], window[tap], acc);
  acc = fmaf(w[K - 1], current, acc);
  return apply_silu ? silu(acc) : acc;
}

template <int K>
__device__ __forceinline__ void load_weights(const ConvArgs& a, int c, float (&w)[K], float& bias) {
#pragma unroll
  for (int tap = 0; tap < K; ++tap) w[tap] = a.weight[static_cast<int64_t>(c) * a.weight_stride + tap];
  bias = a.bias != nullptr ? a.bias[c] : 0.0f;
}

__device__ __forceinline__ int64_t row_begin(const ConvArgs& a, int i) { return a.cu_seqlens[i] - a.row_offset; }

template <typename StateT>
__device__ __forceinline__ StateT* state_at(const ConvArgs& a, int64_t slot, int row, int c) {
  return static_cast<StateT*>(a.state) + slot * a.state_slot_stride + row * a.state_row_stride + c;
}

// The K-1 inputs preceding token t of sequence `seq` (which starts at row `begin`): x rows inside the
// sequence, the slot's rows (or zeros) before it.
template <int K, typename StateT>
__device__ __forceinline__ void load_window(const ConvArgs& a, int seq, int64_t begin, int64_t t, int c,
                                            float (&window)[K - 1]) {
  const int64_t slot = a.slots[seq];
  const bool initial = a.has_initial[seq] != 0;
#pragma unroll
  for (int r = 0; r < K - 1; ++r) {
    const int64_t source = t - (K - 1) + r;
    if (source >= begin)
      window[r] = a.x[source * a.x_stride + c];
    else  // source >= begin - (K-1), so the state row (K-1) - (begin - source) is in 0..K-2
      window[r] = initial ? storage::load(state_at<StateT>(a, slot, static_cast<int>((K - 1) - (begin - source)), c))
                          : 0.0f;
  }
}

// Prefill outputs. Grid (token tiles, channel blocks); only reads the pool, so every sequence sees its
// old rows however the tiles are scheduled.
template <int K, typename StateT>
__global__ void __launch_bounds__(kThreads) prefill_outputs(ConvArgs a) {
  enter_kernel();  // launch.cuh: before any global memory access
  const int c = static_cast<int>(blockIdx.y) * kThreads + static_cast<int>(threadIdx.x);
  if (c >= a.channels) return;
  const int64_t t0 = static_cast<int64_t>(blockIdx.x) * kTokenTile;
  const int64_t t1 = min(a.num_tokens, t0 + kTokenTile);
  // The sequence holding t0: begin(lo) <= t0 < begin(hi) throughout (begin(num_sequences) = T > t0),
  // so it ends on the one non-empty sequence that contains t0.
  int lo = 0, hi = a.num_sequences;
  while (hi - lo > 1) {
    const int mid = (lo + hi) / 2;
    if (row_begin(a, mid) <= t0) lo = mid; else hi = mid;
  }
  int seq = lo;
  int64_t begin = row_begin(a, seq), end = row_begin(a, seq + 1);
  float w[K], bias;
  load_weights<K>(a, c, w, bias);
  float window[K - 1];
  load_window<K, StateT>(a, seq, begin, t0, c, window);
  for (int64_t t = t0; t < t1; ++t) {
    if (t >= end) {  // the next non-empty sequence starts exactly at t
      do {
        ++seq;
        begin = end;
        end = row_begin(a, seq + 1);
      } while (t >= end);
      load_window<K, StateT>(a, seq, begin, t, c, window);
    }
    const float current = a.x[t * a.x_stride + c];
    a.out[t * a.out_stride + c] = conv_at<K>(w, bias, window, current, a.silu);
#pragma unroll
    for (int r = 0; r + 1 < K - 1; ++r) window[r] = window[r + 1];
    window[K - 2] = current;
  }
}

// Prefill states, after all outputs: grid (sequences, channel blocks). Each (sequence, channel) has one
// thread, so the ascending-row copy reads old row r + length before this same thread overwrites it.
template <int K, typename StateT>
__global__ void __launch_bounds__(kThreads) prefill_states(ConvArgs a) {
  enter_kernel();  // launch.cuh: before any global memory access
  const int seq = static_cast<int>(blockIdx.x);
  const int c = static_cast<int>(blockIdx.y) * kThreads + static_cast<int>(threadIdx.x);
  if (c >= a.channels) return;
  const int64_t slot = a.slots[seq];
  const bool initial = a.has_initial[seq] != 0;
  const int64_t begin = row_begin(a, seq), length = a.cu_seqlens[seq + 1] - a.cu_seqlens[seq];
#pragma unroll
  for (int r = 0; r < K - 1; ++r) {
    StateT* dst = state_at<StateT>(a, slot, r, c);
    const int64_t source = length - (K - 1) + r;
    if (source >= 0)
      storage::store(dst, a.x[(begin + source) * a.x_stride + c]);
    else if (initial)
      *dst = *state_at<StateT>(a, slot, static_cast<int>(r + length), c);  // raw copy: exact in either dtype
    else
      storage::store(dst, 0.0f);
  }
}

// Decode / verify: grid (sequences, channel blocks). The window carries each input as the pool would
// hold it, so intermediate [seq, j] and the final rows equal a chain of one-token calls bit for bit.
template <int K, typename StateT>
__global__ void __launch_bounds__(kThreads) decode_kernel(ConvArgs a) {
  enter_kernel();  // launch.cuh: before any global memory access
  const int seq = static_cast<int>(blockIdx.x);
  const int c = static_cast<int>(blockIdx.y) * kThreads + static_cast<int>(threadIdx.x);
  if (c >= a.channels) return;
  const int64_t slot = a.slots[seq];
  const int64_t begin = row_begin(a, seq), length = a.cu_seqlens[seq + 1] - a.cu_seqlens[seq];
  if (slot < 0) {  // padding: zero outputs, no state touched
    for (int64_t j = 0; j < length; ++j) a.out[(begin + j) * a.out_stride + c] = 0.0f;
    return;
  }
  float w[K], bias;
  load_weights<K>(a, c, w, bias);
  float window[K - 1];
  const bool initial = a.has_initial[seq] != 0;
#pragma unroll
  for (int r = 0; r < K - 1; ++r) window[r] = initial ? storage::load(state_at<StateT>(a, slot, r, c)) : 0.0f;
  for (int64_t j = 0; j < length; ++j) {
    const float current = a.x[(begin + j) * a.x_stride + c];
    a.out[(begin + j) * a.out_stride + c] = conv_at<K>(w, bias, window, current, a.silu);
#pragma unroll
    for (int r = 0; r + 1 < K - 1; ++r) window[r] = window[r + 1];
    window[K - 2] = storage::round_trip<StateT>(current);
    if (a.intermediate != nullptr) {
      StateT* base = static_cast<StateT*>(a.intermediate) + seq * a.inter_seq_stride + j * a.inter_step_stride + c;
#pragma unroll
      for (int r = 0; r < K - 1; ++r) storage::store(base + r * a.inter_row_stride, window[r]);
    }
  }
#pragma unroll
  for (int r = 0; r < K - 1; ++r) storage::store(state_at<StateT>(a, slot, r, c), window[r]);
}

// Calls f(std::integral_constant<int, K>) for K in 2..8 (check_causal_conv1d bounds it).
template <typename F>
void with_width(int64_t K, F&& f) {
  switch (K) {
    case 2: f(std::integral_constant<int, 2>{}); break;
    case 3: f(std::integral_constant<int, 3>{}); break;
    case 4: f(std::integral_constant<int, 4>{}); break;
    case 5: f(std::integral_constant<int, 5>{}); break;
    case 6: f(std::integral_constant<int, 6>{}); break;
    case 7: f(std::integral_constant<int, 7>{}); break;
    case 8: f(std::integral_constant<int, 8>{}); break;
    default: break;  // unreachable after the check
  }
}

ConvArgs make_args(const CausalConv1dParams& params, const Tensor& x, const Tensor& weight,
                   const Tensor& bias, const VarlenBatch& batch, const Tensor& conv_state,
                   const Tensor& intermediate, const Tensor& out) {
  ConvArgs a;
  a.x = x.ptr<const float>();
  a.x_stride = x.stride(0);
  a.weight = weight.ptr<const float>();
  a.weight_stride = weight.stride(0);
  a.bias = bias.data != nullptr ? bias.ptr<const float>() : nullptr;
  a.state = conv_state.data;
  a.state_slot_stride = conv_state.stride(0);
  a.state_row_stride = conv_state.stride(1);
  if (intermediate.data != nullptr) {
    a.intermediate = intermediate.data;
    a.inter_seq_stride = intermediate.stride(0);
    a.inter_step_stride = intermediate.stride(1);
    a.inter_row_stride = intermediate.stride(2);
  }
  a.out = out.ptr<float>();
  a.out_stride = out.stride(0);
  a.cu_seqlens = batch.device.cu_seqlens;
  a.slots = batch.device.slots;
  a.has_initial = batch.device.has_initial_state;
  a.row_offset = batch.device.row_offset;
  a.num_sequences = static_cast<int>(batch.num_sequences());
  a.channels = static_cast<int>(params.conv_dim);
  a.num_tokens = batch.num_tokens();
  a.silu = params.silu;
  return a;
}

unsigned channel_blocks(int64_t channels) { return static_cast<unsigned>((channels + kThreads - 1) / kThreads); }

template <typename StateT>
void launch_prefill(const ConvArgs& a, int64_t K, cudaStream_t stream) {
  with_width(K, [&](auto width) {
    constexpr int W = decltype(width)::value;
    if (a.num_tokens > 0) {
      const dim3 grid(static_cast<unsigned>((a.num_tokens + kTokenTile - 1) / kTokenTile), channel_blocks(a.channels));
      launch_kernel(prefill_outputs<W, StateT>, grid, kThreads, 0, stream, a);
      strata::cuda::check_last_error("causal_conv1d_prefill (outputs)");
    }
    // Same stream: starts only after every output has read the old rows.
    launch_kernel(prefill_states<W, StateT>, dim3(static_cast<unsigned>(a.num_sequences), channel_blocks(a.channels)), kThreads, 0,
                                stream, a);
    strata::cuda::check_last_error("causal_conv1d_prefill (states)");
  });
}

template <typename StateT>
void launch_decode(const ConvArgs& a, int64_t K, cudaStream_t stream) {
  with_width(K, [&](auto width) {
    constexpr int W = decltype(width)::value;
    launch_kernel(decode_kernel<W, StateT>, dim3(static_cast<unsigned>(a.num_sequences), channel_blocks(a.channels)), kThreads, 0,
                               stream, a);
    strata::cuda::check_last_error("causal_conv1d_decode");
  });
}

}  // namespace

void causal_conv1d_prefill(const CausalConv1dParams& params, const Tensor& x, const Tensor& weight,
                           const Tensor& bias, const VarlenBatch& batch, const Tensor& conv_state,
                           const Tensor& out, const Exec& exec) {
  if (batch.num_sequences() == 0) return;
  const ConvArgs a = make_args(params, x, weight, bias, batch, conv_state, Tensor{}, out);
  const auto stream = static_cast<cudaStream_t>(exec.cuda().stream());
  if (conv_state.dtype == DType::bf16)
    launch_prefill<__nv_bfloat16>(a, params.kernel_width, stream);
  else
    launch_prefill<float>(a, params.kernel_width, stream);
}

void causal_conv1d_decode(const CausalConv1dParams& params, const Tensor& x, const Tensor& weight,
                          const Tensor& bias, const VarlenBatch& batch, const Tensor& conv_state,
                          const Tensor& intermediate, const Tensor& out, const Exec& exec) {
  if (batch.num_sequences() == 0) return;
  const ConvArgs a = make_args(params, x, weight, bias, batch, conv_state, intermediate, out);
  const auto stream = static_cast<cudaStream_t>(exec.cuda().stream());
  if (conv_state.dtype == DType::bf16)
    launch_decode<__nv_bfloat16>(a, params.kernel_width, stream);
  else
    launch_decode<float>(a, params.kernel_width, stream);
}

}  // namespace strata::kernels::cuda
