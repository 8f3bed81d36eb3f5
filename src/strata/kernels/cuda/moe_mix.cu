// The MoE row movement on CUDA: the gather that feeds each expert one contiguous block and the weighted
// mix back into token rows. Both give a block one row and a chunk of kThreads·V columns (V = 4 with
// float4 accesses when every row start is 16-byte aligned, else 1), so a lone decode token still spreads
// over several blocks. The mix sums a token's k contributions in ascending gathered row, one fma per
// contribution starting from out (accumulate) or 0, which is what the CPU's loop compiles to
// (cpu/moe_gather.cpp; GCC contracts dst += w·src into an fma), so the two agree to the last bit or so.
#include "strata/kernels/cuda/moe.h"

#include <cuda_runtime.h>

#include <cstdint>
#include <initializer_list>

#include "strata/core/cuda_context.h"
#include "strata/kernels/cuda/launch.cuh"

namespace strata::kernels::cuda {
namespace {

constexpr int kThreads = 256;

template <int V>
struct Vec;
template <>
struct Vec<1> {
  using type = float;
};
template <>
struct Vec<4> {
  using type = float4;
};

template <int V>
__device__ __forceinline__ typename Vec<V>::type load(const float* p) {
  return *reinterpret_cast<const typename Vec<V>::type*>(p);
}
template <int V>
__device__ __forceinline__ void store(float* p, typename Vec<V>::type v) {
  *reinterpret_cast<typename Vec<V>::type*>(p) = v;
}

__device__ __forceinline__ float fma_vec(float w, float x, float acc) { return fmaf(w, x, acc); }
__device__ __forceinline__ float4 fma_vec(float w, float4 x, float4 acc) {
  return make_float4(fmaf(w, x.x, acc.x), fmaf(w, x.y, acc.y), fmaf(w, x.z, acc.z), fmaf(w, x.w, acc.w));
}
template <int V>
__device__ __forceinline__ typename Vec<V>::type zero() {
  if constexpr (V == 1)
    return 0.0f;
  else
    return make_float4(0.0f, 0.0f, 0.0f, 0.0f);
}

struct GatherArgs {
  const float* x = nullptr;
  int64_t x_stride = 0;
  const int64_t* row_token = nullptr;
  float* gathered = nullptr;
  int64_t gathered_stride = 0;
  int64_t width = 0;
};

// Block (r, chunk): gathered[r, cols] = x[row_token[r], cols].
template <int V>
__global__ void __launch_bounds__(kThreads) gather_kernel(GatherArgs a) {
  enter_kernel();  // launch.cuh: before any global memory access
  const int64_t r = blockIdx.x;
  const int64_t c = (static_cast<int64_t>(blockIdx.y) * kThreads + threadIdx.x) * V;
  if (c >= a.width) return;
  const float* src = a.x + a.row_token[r] * a.x_stride;
  store<V>(a.gathered + r * a.gathered_stride + c, load<V>(src + c));
}

struct MixArgs {
  const float* expert_out = nullptr;
  int64_t expert_stride = 0;
  const int64_t* slot_row = nullptr;  // [T·k]
  const float* weights = nullptr;     // [T, k], contiguous
  float* out = nullptr;
  int64_t out_stride = 0;
  int64_t width = 0;
  int top_k = 1;
  bool accumulate = false;
};

// Block (t, chunk): out[t, cols] (+)= Σ_j w_j · expert_out[row_j, cols] over the token's rows, ascending.
template <int V>
__global__ void __launch_bounds__(kThreads) mix_kernel(MixArgs a) {
  enter_kernel();  // launch.cuh: before any global memory access
  __shared__ int64_t rows[kMaxRoutingTopK];
  __shared__ float weight[kMaxRoutingTopK];
  const int64_t t = blockIdx.x;
  if (threadIdx.x == 0) {  // insertion sort by row, as the CPU; k <= 64
    for (int j = 0; j < a.top_k; ++j) {
      const int64_t row = a.slot_row[t * a.top_k + j];
      const float w = a.weights[t * a.top_k + j];
      int i = j;
      for (; i > 0 && rows[i - 1] > row; --i) {
        rows[i] = rows[i - 1];
        weight[i] = weight[i - 1];
      }
      rows[i] = row;
      weight[i] = w;
    }
  }
  __syncthreads();
  const int64_t c = (static_cast<int64_t>(blockIdx.y) * kThreads + threadIdx.x) * V;
  if (c >= a.width) return;
  float* dst = a.out + t * a.out_stride + c;
  typename Vec<V>::type acc = a.accumulate ? load<V>(dst) : zero<V>();
  for (int j = 0; j < a.top_k; ++j) acc = fma_vec(weight[j], load<V>(a.expert_out + rows[j] * a.expert_stride + c), acc);
  store<V>(dst, acc);
}

bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

// float4 is usable when every row start is 16-byte aligned and the width is whole float4s.
bool vectorizable(int64_t width, std::initializer_list<const float*> bases, std::initializer_list<int64_t> strides) {
  if (width % 4 != 0) return false;
  for (const float* p : bases)
    if (!aligned16(p)) return false;
  for (int64_t s : strides)
    if (s % 4 != 0) return false;
  return true;
}

dim3 grid_of(int64_t rows, int64_t width, int v) {
  const int64_t per_block = static_cast<int64_t>(kThreads) * v;
  return dim3(static_cast<unsigned>(rows), static_cast<unsigned>((width + per_block - 1) / per_block));
}

}  // namespace

void moe_gather_rows(const Tensor& x, const MoeGrouping& grouping, const Tensor& gathered, const Exec& exec) {
  GatherArgs a;
  a.x = x.ptr<const float>();
  a.x_stride = x.stride(0);
  a.row_token = grouping.row_token.ptr<const int64_t>();
  a.gathered = gathered.ptr<float>();
  a.gathered_stride = gathered.stride(0);
  a.width = gathered.size(1);
  const int64_t rows = gathered.size(0);
  if (rows == 0 || a.width == 0) return;
  const auto stream = static_cast<cudaStream_t>(exec.cuda().stream());
  if (vectorizable(a.width, {a.x, a.gathered}, {a.x_stride, a.gathered_stride}))
    launch_kernel(gather_kernel<4>, grid_of(rows, a.width, 4), kThreads, 0, stream, a);
  else
    launch_kernel(gather_kernel<1>, grid_of(rows, a.width, 1), kThreads, 0, stream, a);
  strata::cuda::check_last_error("moe_gather_rows");
}

void moe_mix(const Tensor& expert_out, const MoeGrouping& grouping, const Tensor& weights, const Tensor& out,
             bool accumulate, const Exec& exec) {
  MixArgs a;
  a.expert_out = expert_out.ptr<const float>();
  a.expert_stride = expert_out.stride(0);
  a.slot_row = grouping.slot_row.ptr<const int64_t>();
  a.weights = weights.ptr<const float>();
  a.out = out.ptr<float>();
  a.out_stride = out.stride(0);
  a.width = expert_out.size(1);
  a.top_k = static_cast<int>(weights.size(1));
  a.accumulate = accumulate;
  const int64_t tokens = weights.size(0);
  if (tokens == 0 || a.width == 0) return;
  const auto stream = static_cast<cudaStream_t>(exec.cuda().stream());
  if (vectorizable(a.width, {a.expert_out, a.out}, {a.expert_stride, a.out_stride}))
    launch_kernel(mix_kernel<4>, grid_of(tokens, a.width, 4), kThreads, 0, stream, a);
  else
    launch_kernel(mix_kernel<1>, grid_of(tokens, a.width, 1), kThreads, 0, stream, a);
  strata::cuda::check_last_error("moe_mix");
}

}  // namespace strata::kernels::cuda
