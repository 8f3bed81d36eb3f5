// RoPE on CUDA: a block per token row. Its threads first fill a shared cos/sin table for the row's
// position (one entry per frequency), then rotate every (head, pair) of the row from it. Angles are the
// CPU's exactly: inv_freq comes from the host (rope_inv_freq, the CPU twin's function, passed in the
// kernel's parameters), position and position·inv_freq are rounded to f32 as there, and sincosf is the
// full-precision one (no fast math), within 2 ulp of the CPU's cosf/sinf at any argument.
#include "strata/kernels/cuda/rope.h"

#include <cuda_runtime.h>

#include "strata/core/cuda_context.h"
#include "strata/kernels/cuda/launch.cuh"

namespace strata::kernels::cuda {
namespace {

constexpr int kThreads = 128;
constexpr int kMaxHalf = static_cast<int>(kMaxRotaryDim / 2);

struct RopeArgs {
  float* x = nullptr;
  int64_t row_stride = 0;
  const int64_t* positions = nullptr;  // device, one per row
  int heads = 0, head_dim = 0, half = 0;
  int first_step = 0, second_offset = 0;  // pair i of a head is (i·first_step, i·first_step + second_offset)
  float inv_freq[kMaxHalf] = {};
};

// __grid_constant__: the table is indexed at run time, so it is read from the parameter bank in place
// rather than copied to local memory.
__global__ void __launch_bounds__(kThreads) rope_kernel(const __grid_constant__ RopeArgs a) {
  enter_kernel();  // launch.cuh: before any global memory access
  __shared__ float cos_table[kMaxHalf], sin_table[kMaxHalf];
  const int64_t t = blockIdx.x;
  const float position = static_cast<float>(a.positions[t]);
  for (int i = static_cast<int>(threadIdx.x); i < a.half; i += kThreads) {
    const float angle = position * a.inv_freq[i];
    float s, c;
    sincosf(angle, &s, &c);
    cos_table[i] = c;
    sin_table[i] = s;
  }
  __syncthreads();
  float* row = a.x + t * a.row_stride;
  const int pairs = a.heads * a.half;
  for (int p = static_cast<int>(threadIdx.x); p < pairs; p += kThreads) {
    const int h = p / a.half, i = p - h * a.half;
    float* pa = row + static_cast<int64_t>(h) * a.head_dim + i * a.first_step;
    float* pb = pa + a.second_offset;
    const float xa = *pa, xb = *pb, c = cos_table[i], s = sin_table[i];
    *pa = xa * c - xb * s;
    *pb = xb * c + xa * s;
  }
}

}  // namespace

void apply_rope(const RopeParams& params, const Tensor& x, Mirrored<int64_t> positions, const Exec& exec) {
  const int64_t rows = x.size(0);
  if (rows <= 0) return;
  RopeArgs a;
  a.x = x.ptr<float>();
  a.row_stride = x.stride(0);
  a.positions = positions.device;
  a.heads = static_cast<int>(params.n_heads);
  a.head_dim = static_cast<int>(params.head_dim);
  a.half = static_cast<int>(params.rotary_dim / 2);
  const bool neox = params.style == RopeStyle::neox;
  a.first_step = neox ? 1 : 2;
  a.second_offset = neox ? a.half : 1;
  for (int i = 0; i < a.half; ++i) a.inv_freq[i] = rope_inv_freq(params, i);
  launch_kernel(rope_kernel, static_cast<unsigned>(rows), kThreads, 0, static_cast<cudaStream_t>(exec.cuda().stream()), a);
  strata::cuda::check_last_error("apply_rope");
}

}  // namespace strata::kernels::cuda
