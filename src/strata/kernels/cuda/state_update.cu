// Selective state update on CUDA. A block is 4 warps over 16 consecutive rows (p) of one head of one
// sequence; a warp owns 4 rows and its lanes split N (element n = i·32 + lane, so every access to the
// state, B and C is a coalesced row segment). The rows' state stays in registers across the sequence's
// tokens: one read and one write of the state per call, whatever 1+S is.
#include "strata/kernels/cuda/state_update.h"

#include <cuda_bf16.h>
#include <cuda_runtime.h>


#include "strata/core/cuda_context.h"
#include "strata/kernels/cuda/state_storage.cuh"
#include "strata/kernels/cuda/launch.cuh"

namespace strata::kernels::cuda {
namespace {

namespace storage = state_storage;

constexpr int kWarps = 4;
constexpr int kRowsPerWarp = 4;  // B, C, dt and decay are loaded once per token for all of them
constexpr int kRowsPerBlock = kWarps * kRowsPerWarp;

struct UpdateArgs {
  const float* x = nullptr;
  int64_t x_stride = 0;
  const float* dt = nullptr;
  int64_t dt_stride = 0;
  const float* B = nullptr;
  int64_t B_stride = 0;
  const float* C = nullptr;
  int64_t C_stride = 0;
  const float* A = nullptr;
  int64_t A_stride = 0;
  const float* D = nullptr;  // nullptr: zero
  int64_t D_stride = 0;
  const float* dt_bias = nullptr;  // nullptr: zero
  int64_t dt_bias_stride = 0;
  void* state = nullptr;
  int64_t state_strides[3] = {};  // slot, head, row (n is contiguous)
  void* intermediate = nullptr;   // nullptr: none
  int64_t inter_strides[4] = {};  // sequence, step, head, row
  float* y = nullptr;
  int64_t y_stride = 0;
  const int64_t* cu_seqlens = nullptr;
  const int32_t* slots = nullptr;
  const uint8_t* has_initial = nullptr;
  int64_t row_offset = 0;
  int heads = 0, head_dim = 0, state_size = 0, heads_per_group = 1;
  int row_chunks = 1;  // blocks per head: ceil(P / kRowsPerBlock)
  bool dt_softplus = true;
  float dt_min = 0.0f, dt_max = 0.0f;
  bool prefetch_state = false;  // warm the state rows in L2 before waiting (small batches: below)
};

// torch's softplus, threshold 20 (the CPU's form).
__device__ __forceinline__ float softplus(float v) { return v > 20.0f ? v : log1pf(expf(v)); }

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(0xffffffffu, v, offset);
  return v;
}

// V = state elements per lane (N <= 32·V). Grid: sequences · H · row_chunks blocks of kWarps warps.
template <int V, typename StateT>
__global__ void __launch_bounds__(kWarps * 32) update_kernel(UpdateArgs a) {
  start_dependents();  // launch.cuh; wait_for_predecessors() below, before the first load
  const int lane = static_cast<int>(threadIdx.x) & 31, warp = static_cast<int>(threadIdx.x) >> 5;
  const int chunk = static_cast<int>(blockIdx.x) % a.row_chunks;
  const int head_item = static_cast<int>(blockIdx.x) / a.row_chunks;
  const int h = head_item % a.heads, seq = head_item / a.heads;
  const int P = a.head_dim, N = a.state_size;
  const int p0 = chunk * kRowsPerBlock + warp * kRowsPerWarp;
  if (p0 >= P) return;  // a whole warp leaves (no block barrier below), so the shuffles stay full-warp
  const int rows = min(kRowsPerWarp, P - p0);
  // With few sequences (a latency-bound decode step) the warp's state rows are warmed in L2 while the
  // kernel before this one drains: a prefetch only moves lines into L2, the coherent point every load and
  // store meets, so it cannot make a later load see an older value, whoever writes the state. The slot
  // comes from the step's metadata, copied to the device before the step's first kernel. Many sequences
  // stream far more state than L2 holds and gain nothing: measured on the H200, prefetching at batch 64
  // made mamba2-2.7b decode 18 % slower, so it is off there.
  if (a.prefetch_state) {
    const int32_t slot = a.slots[seq];
    const int lines_per_row = static_cast<int>((static_cast<int64_t>(N) * sizeof(StateT) + 127) / 128);
    if (slot >= 0 && lane < rows * lines_per_row) {
      const int r = lane / lines_per_row, line = lane % lines_per_row;
      const char* p = reinterpret_cast<const char*>(static_cast<const StateT*>(a.state) + slot * a.state_strides[0] +
                                                    h * a.state_strides[1] + (p0 + r) * a.state_strides[2]);
      asm volatile("prefetch.global.L2 [%0];" ::"l"(p + 128 * line));
    }
  }
  wait_for_predecessors();
  const int64_t begin = a.cu_seqlens[seq] - a.row_offset;
  const int64_t length = a.cu_seqlens[seq + 1] - a.cu_seqlens[seq];
  const int64_t slot = a.slots[seq];
  const int64_t y_col = static_cast<int64_t>(h) * P + p0;  // also x's column of row p0
  if (slot < 0) {  // padding: zero y, no state touched
    for (int64_t j = 0; j < length; ++j)
      if (lane < rows) a.y[(begin + j) * a.y_stride + y_col + lane] = 0.0f;
    return;
  }
  if (length == 0) return;  // as on the CPU, an empty sequence leaves its slot as it is

  const float A = a.A[h * a.A_stride];
  const float D = a.D != nullptr ? a.D[h * a.D_stride] : 0.0f;
  const float dt_bias = a.dt_bias != nullptr ? a.dt_bias[h * a.dt_bias_stride] : 0.0f;
  const int64_t group_col = static_cast<int64_t>(h / a.heads_per_group) * N;
  StateT* state = static_cast<StateT*>(a.state) + slot * a.state_strides[0] + h * a.state_strides[1] +
                  p0 * a.state_strides[2];

  // Rows past P and lanes past N hold zeros and see zero x and B, so they stay zero and add nothing.
  float s[kRowsPerWarp][V];
  const bool initial = a.has_initial[seq] != 0;
#pragma unroll
  for (int r = 0; r < kRowsPerWarp; ++r)
#pragma unroll
    for (int i = 0; i < V; ++i) {
      const int n = i * 32 + lane;
      s[r][i] = initial && r < rows && n < N ? storage::load(state + r * a.state_strides[2] + n) : 0.0f;
    }

  for (int64_t j = 0; j < length; ++j) {
    const int64_t t = begin + j;
    float dt = a.dt[t * a.dt_stride + h] + dt_bias;
    if (a.dt_softplus) dt = softplus(dt);
    dt = fminf(fmaxf(dt, a.dt_min), a.dt_max);
    const float decay = expf(dt * A);
    float Bv[V], Cv[V];
#pragma unroll
    for (int i = 0; i < V; ++i) {
      const int n = i * 32 + lane;
      Bv[i] = n < N ? a.B[t * a.B_stride + group_col + n] : 0.0f;
      Cv[i] = n < N ? a.C[t * a.C_stride + group_col + n] : 0.0f;
    }
    const float* x_row = a.x + t * a.x_stride + y_col;
    float y_lane = 0.0f;  // lane r < rows writes row r's y
#pragma unroll
    for (int r = 0; r < kRowsPerWarp; ++r) {
      const float xv = r < rows ? x_row[r] : 0.0f;
      const float xdt = xv * dt;
      float dot = 0.0f;
#pragma unroll
      for (int i = 0; i < V; ++i) {
        // The CPU's operation order, so f32 states agree bit for bit given the same dt and decay.
        const float sv = fmaf(s[r][i], decay, Bv[i] * xdt);
        dot = fmaf(sv, Cv[i], dot);  // y uses the unrounded state (mamba_ssm's order)
        s[r][i] = storage::round_trip<StateT>(sv);
      }
      const float total = warp_sum(dot);
      if (lane == r) y_lane = fmaf(D, xv, total);
    }
    if (lane < rows) a.y[t * a.y_stride + y_col + lane] = y_lane;
    if (a.intermediate != nullptr) {
      StateT* inter = static_cast<StateT*>(a.intermediate) + seq * a.inter_strides[0] + j * a.inter_strides[1] +
                      h * a.inter_strides[2] + p0 * a.inter_strides[3];
#pragma unroll
      for (int r = 0; r < kRowsPerWarp; ++r)
#pragma unroll
        for (int i = 0; i < V; ++i) {
          const int n = i * 32 + lane;
          if (r < rows && n < N) storage::store(inter + r * a.inter_strides[3] + n, s[r][i]);  // exact
        }
    }
  }
#pragma unroll
  for (int r = 0; r < kRowsPerWarp; ++r)
#pragma unroll
    for (int i = 0; i < V; ++i) {
      const int n = i * 32 + lane;
      if (r < rows && n < N) storage::store(state + r * a.state_strides[2] + n, s[r][i]);
    }
}

template <typename StateT>
void launch(const UpdateArgs& a, unsigned blocks, cudaStream_t stream) {
  const int N = a.state_size;
  if (N <= 32)
    launch_kernel(update_kernel<1, StateT>, blocks, kWarps * 32, 0, stream, a);
  else if (N <= 64)
    launch_kernel(update_kernel<2, StateT>, blocks, kWarps * 32, 0, stream, a);
  else if (N <= 128)
    launch_kernel(update_kernel<4, StateT>, blocks, kWarps * 32, 0, stream, a);
  else if (N <= 256)
    launch_kernel(update_kernel<8, StateT>, blocks, kWarps * 32, 0, stream, a);
  else
    launch_kernel(update_kernel<16, StateT>, blocks, kWarps * 32, 0, stream, a);  // N <= kMaxStateDim = 512
  strata::cuda::check_last_error("selective_state_update");
}

}  // namespace

void selective_state_update(const SelectiveStateUpdateParams& params,
                            const SelectiveStateUpdateInputs& inputs,
                            const SelectiveStateUpdateWeights& weights, const VarlenBatch& batch,
                            const Tensor& ssm_state, const Tensor& intermediate, const Tensor& y,
                            const Exec& exec) {
  static_assert(kMaxStateDim <= 16 * 32, "the widest kernel holds 16 state elements per lane");
  const int64_t num_sequences = batch.num_sequences();
  if (num_sequences == 0) return;
  UpdateArgs a;
  a.x = inputs.x.ptr<const float>();
  a.x_stride = inputs.x.stride(0);
  a.dt = inputs.dt.ptr<const float>();
  a.dt_stride = inputs.dt.stride(0);
  a.B = inputs.B.ptr<const float>();
  a.B_stride = inputs.B.stride(0);
  a.C = inputs.C.ptr<const float>();
  a.C_stride = inputs.C.stride(0);
  a.A = weights.A.ptr<const float>();
  a.A_stride = weights.A.stride(0);
  if (weights.D.data != nullptr) {
    a.D = weights.D.ptr<const float>();
    a.D_stride = weights.D.stride(0);
  }
  if (weights.dt_bias.data != nullptr) {
    a.dt_bias = weights.dt_bias.ptr<const float>();
    a.dt_bias_stride = weights.dt_bias.stride(0);
  }
  a.state = ssm_state.data;
  for (int d = 0; d < 3; ++d) a.state_strides[d] = ssm_state.stride(d);
  if (intermediate.data != nullptr) {
    a.intermediate = intermediate.data;
    for (int d = 0; d < 4; ++d) a.inter_strides[d] = intermediate.stride(d);
  }
  a.y = y.ptr<float>();
  a.y_stride = y.stride(0);
  a.cu_seqlens = batch.device.cu_seqlens;
  a.slots = batch.device.slots;
  a.has_initial = batch.device.has_initial_state;
  a.row_offset = batch.device.row_offset;
  a.heads = static_cast<int>(params.n_heads);
  a.head_dim = static_cast<int>(params.head_dim);
  a.state_size = static_cast<int>(params.state_size);
  a.heads_per_group = static_cast<int>(params.n_heads / params.n_groups);
  a.row_chunks = static_cast<int>((params.head_dim + kRowsPerBlock - 1) / kRowsPerBlock);
  a.dt_softplus = params.dt_softplus;
  a.dt_min = params.dt_min;
  a.dt_max = params.dt_max;
  a.prefetch_state = num_sequences <= 2;
  const int64_t blocks = num_sequences * params.n_heads * a.row_chunks;  // < 2^31: the neutral entry checks
  const auto stream = static_cast<cudaStream_t>(exec.cuda().stream());
  if (ssm_state.dtype == DType::bf16)
    launch<__nv_bfloat16>(a, static_cast<unsigned>(blocks), stream);
  else
    launch<float>(a, static_cast<unsigned>(blocks), stream);
}

}  // namespace strata::kernels::cuda
