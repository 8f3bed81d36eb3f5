// Element-wise row updates on CUDA, one row_map launch each. The expressions are the CPU loops'
// (cpu/elementwise.cpp) so results agree to the last bit except where nvcc fuses o + x·alpha into one
// fma (at most one rounding apart).
#include "strata/kernels/cuda/elementwise.h"

#include <cuda_runtime.h>

#include "strata/core/cuda_context.h"
#include "strata/kernels/cuda/row_map.cuh"

namespace strata::kernels::cuda {
namespace {

struct AddScaled {
  static constexpr bool kReadsOut = true, kReadsIn = true;
  float alpha;
  __device__ float operator()(float out, float in, int64_t) const { return out + in * alpha; }
};

struct Scale {
  static constexpr bool kReadsOut = true, kReadsIn = false;
  float alpha;
  __device__ float operator()(float out, float, int64_t) const { return out * alpha; }
};

struct CopyScaled {
  static constexpr bool kReadsOut = false, kReadsIn = true;
  float alpha;
  __device__ float operator()(float, float in, int64_t) const { return in * alpha; }
};

struct ScaleColumns {
  static constexpr bool kReadsOut = true, kReadsIn = false;
  const float* column_scale;
  __device__ float operator()(float out, float, int64_t c) const { return out * column_scale[c]; }
};

row_map::RowArgs rows_of(const Tensor& out, const Tensor* in) {
  row_map::RowArgs a;
  a.out = out.ptr<float>();
  a.out_stride = out.stride(0);
  if (in != nullptr) {
    a.in = in->ptr<const float>();
    a.in_stride = in->stride(0);
  }
  a.rows = out.size(0);
  a.width = out.size(1);
  return a;
}

cudaStream_t stream_of(const Exec& exec) { return static_cast<cudaStream_t>(exec.cuda().stream()); }

}  // namespace

void add_scaled(const Tensor& out, const Tensor& x, float alpha, const Exec& exec) {
  row_map::launch(rows_of(out, &x), AddScaled{alpha}, stream_of(exec), "add_scaled");
}

void scale(const Tensor& x, float alpha, const Exec& exec) {
  row_map::launch(rows_of(x, nullptr), Scale{alpha}, stream_of(exec), "scale");
}

void copy_scaled(const Tensor& out, const Tensor& x, float alpha, const Exec& exec) {
  row_map::launch(rows_of(out, &x), CopyScaled{alpha}, stream_of(exec), "copy_scaled");
}

void scale_columns(const Tensor& x, const Tensor& column_scale, const Exec& exec) {
  row_map::launch(rows_of(x, nullptr), ScaleColumns{column_scale.ptr<const float>()}, stream_of(exec),
                  "scale_columns");
}

}  // namespace strata::kernels::cuda
