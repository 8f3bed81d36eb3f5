// Element-wise maps over f32 rows [rows, width] (unit column stride, any row stride), shared by the
// elementwise and activation kernels: out[r, c] ← op(out[r, c], in[r, c], c). A thread takes V
// consecutive columns (V = 4, one float4 load and store, when every row start is 16-byte aligned and the
// width is a multiple of 4; else V = 1); grid.x tiles the columns, grid.y strides over the rows (capped
// at 65535, the loop covers the rest). The grid depends on the shape only; nothing is allocated.
#pragma once

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

#include "strata/core/cuda_runtime.h"
#include "strata/kernels/cuda/launch.cuh"

namespace strata::kernels::cuda::row_map {

constexpr int kThreads = 256;
constexpr int64_t kMaxRowBlocks = 65535;  // gridDim.y limit

struct RowArgs {
  float* out = nullptr;
  int64_t out_stride = 0;
  const float* in = nullptr;  // read only when the op says kReadsIn
  int64_t in_stride = 0;
  int64_t rows = 0, width = 0;
};

// An Op is a small struct with
//   static constexpr bool kReadsOut, kReadsIn;
//   __device__ float operator()(float out, float in, int64_t column) const;
// (`out` / `in` are 0 when the op does not read them).
template <int V, typename Op>
__global__ void __launch_bounds__(kThreads) map_rows(RowArgs a, Op op) {
  enter_kernel();  // launch.cuh: before any global memory access
  const int64_t c = (static_cast<int64_t>(blockIdx.x) * kThreads + static_cast<int64_t>(threadIdx.x)) * V;
  if (c >= a.width) return;  // with V = 4 the width is a multiple of 4, so c..c+3 are all in range
  for (int64_t r = blockIdx.y; r < a.rows; r += gridDim.y) {
    float* o = a.out + r * a.out_stride + c;
    if constexpr (V == 4) {
      float4 ov = make_float4(0.0f, 0.0f, 0.0f, 0.0f), iv = ov;
      if constexpr (Op::kReadsOut) ov = *reinterpret_cast<const float4*>(o);
      if constexpr (Op::kReadsIn) iv = *reinterpret_cast<const float4*>(a.in + r * a.in_stride + c);
      ov.x = op(ov.x, iv.x, c);
      ov.y = op(ov.y, iv.y, c + 1);
      ov.z = op(ov.z, iv.z, c + 2);
      ov.w = op(ov.w, iv.w, c + 3);
      *reinterpret_cast<float4*>(o) = ov;
    } else {
      float ov = 0.0f, iv = 0.0f;
      if constexpr (Op::kReadsOut) ov = *o;
      if constexpr (Op::kReadsIn) iv = a.in[r * a.in_stride + c];
      *o = op(ov, iv, c);
    }
  }
}

inline bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

// Launches `op` over a's rows on `stream`; nothing for an empty shape. `what` names the op in the
// launch-error message.
template <typename Op>
void launch(const RowArgs& a, Op op, cudaStream_t stream, const char* what) {
  if (a.rows <= 0 || a.width <= 0) return;
  // A single row's stride is never used, so it does not block the vector path.
  const auto stride_ok = [&](int64_t stride) { return a.rows == 1 || stride % 4 == 0; };
  bool vector = a.width % 4 == 0 && stride_ok(a.out_stride) && aligned16(a.out);
  if constexpr (Op::kReadsIn) vector = vector && stride_ok(a.in_stride) && aligned16(a.in);
  const int64_t columns_per_block = static_cast<int64_t>(kThreads) * (vector ? 4 : 1);
  const dim3 grid(static_cast<unsigned>((a.width + columns_per_block - 1) / columns_per_block),
                  static_cast<unsigned>(std::min(a.rows, kMaxRowBlocks)));
  if (vector)
    launch_kernel(map_rows<4, Op>, grid, kThreads, 0, stream, a, op);
  else
    launch_kernel(map_rows<1, Op>, grid, kThreads, 0, stream, a, op);
  strata::cuda::check_last_error(what);
}

}  // namespace strata::kernels::cuda::row_map
