// RMSNorm / gated RMSNorm on CUDA. A block owns one group of one row; its threads take
// consecutive channels (coalesced), keep up to kCached values each in registers, reduce Σv² with warp
// shuffles and one shared-memory pass, then scale and write the same channels they read (so out may
// alias y). Aligned rows take float4s (rms_norm_vector_kernel).
// Arithmetic follows cpu/rms_norm.cpp: v = y·silu(z) (or y), rstd = 1 / sqrt(Σv²/n + eps) with IEEE
// division and square root, out = v·rstd·w (·silu(z) after the norm with norm_before_gate). Only the
// order of the f32 sum differs (a tree here, 16 lanes on the CPU): ~1e-7 relative on rstd.
#include "strata/kernels/cuda/norm.h"

#include <cuda_runtime.h>

#include <algorithm>

#include "strata/core/cuda_context.h"
#include "strata/kernels/cuda/launch.cuh"

namespace strata::kernels::cuda {
namespace {

constexpr int kCached = 16;     // register-held values per thread; wider groups re-read the tail
constexpr int kMaxThreads = 1024;

struct NormArgs {
  const float* y = nullptr;
  int64_t y_stride = 0;
  const float* z = nullptr;  // nullptr: plain RMSNorm
  int64_t z_stride = 0;
  const float* weight = nullptr;
  float* out = nullptr;
  int64_t out_stride = 0;
  int group_size = 0;
  int64_t groups = 1;
  float eps = 0.0f;
  bool gate_last = false;  // norm_before_gate: silu(z) multiplies after the norm
};

// The CPU's scalar form (cpu/activations.h): v / (1 + exp(-v)), so very negative v gives -0, not NaN.
__device__ __forceinline__ float silu(float v) { return v / (1.0f + expf(-v)); }

// Σ over the block; every thread gets the same value (each sums the warp totals in the same order).
__device__ __forceinline__ float block_sum(float v) {
  __shared__ float warp_sums[kMaxThreads / 32];
#pragma unroll
  for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(0xffffffffu, v, offset);
  const int warp = static_cast<int>(threadIdx.x) / 32, lane = static_cast<int>(threadIdx.x) % 32;
  if (lane == 0) warp_sums[warp] = v;
  __syncthreads();
  float total = 0.0f;
  const int warps = static_cast<int>(blockDim.x) / 32;
  for (int w = 0; w < warps; ++w) total += warp_sums[w];
  return total;
}

// Block b normalises group b % groups of row b / groups (a 1-D grid: grid.y would cap groups at 65535).
__global__ void __launch_bounds__(kMaxThreads) rms_norm_kernel(NormArgs a) {
  enter_kernel();  // launch.cuh: before any global memory access
  const int64_t row = static_cast<int64_t>(blockIdx.x) / a.groups;
  const int64_t c0 = static_cast<int64_t>(blockIdx.x) % a.groups * a.group_size;
  const float* y = a.y + row * a.y_stride + c0;
  const float* z = a.z ? a.z + row * a.z_stride + c0 : nullptr;
  const float* w = a.weight + c0;
  float* out = a.out + row * a.out_stride + c0;
  const int n = a.group_size, tid = static_cast<int>(threadIdx.x), threads = static_cast<int>(blockDim.x);
  const bool gate_first = z != nullptr && !a.gate_last;
  const bool gate_after = z != nullptr && a.gate_last;
  auto value = [&](int c) { return gate_first ? y[c] * silu(z[c]) : y[c]; };

  float v[kCached];
  float sum = 0.0f;
#pragma unroll
  for (int j = 0; j < kCached; ++j) {
    const int c = tid + j * threads;
    v[j] = 0.0f;
    if (c < n) {
      v[j] = value(c);
      sum = fmaf(v[j], v[j], sum);
    }
  }
  for (int c = tid + kCached * threads; c < n; c += threads) {
    const float x = value(c);
    sum = fmaf(x, x, sum);
  }
  // block_sum's barrier also orders every read of y above before any write below (out may alias y;
  // each channel is written only by the thread that read it, but the barrier costs nothing extra).
  sum = block_sum(sum);
  const float rstd = 1.0f / sqrtf(sum / static_cast<float>(n) + a.eps);

#pragma unroll
  for (int j = 0; j < kCached; ++j) {
    const int c = tid + j * threads;
    if (c < n) {
      float r = v[j] * rstd * w[c];
      if (gate_after) r = r * silu(z[c]);
      out[c] = r;
    }
  }
  for (int c = tid + kCached * threads; c < n; c += threads) {
    float r = value(c) * rstd * w[c];
    if (gate_after) r = r * silu(z[c]);
    out[c] = r;
  }
}

// Aligned rows: the same block per (row, group) item, but with float4 loads and stores and about
// four float4s per thread (up to kCachedVectors held in registers; wider groups re-read the tail), so a
// row moves in one round trip per thread. Needs 16-byte aligned rows and a group size that is a multiple
// of 4 (launch() checks; otherwise the scalar kernel above).
constexpr int kCachedVectors = 8;

__device__ __forceinline__ float4 operator*(float4 a, float4 b) { return make_float4(a.x * b.x, a.y * b.y, a.z * b.z, a.w * b.w); }
__device__ __forceinline__ float4 silu4(float4 v) { return make_float4(silu(v.x), silu(v.y), silu(v.z), silu(v.w)); }
__device__ __forceinline__ float squares(float4 v, float sum) {
  return fmaf(v.w, v.w, fmaf(v.z, v.z, fmaf(v.y, v.y, fmaf(v.x, v.x, sum))));
}

__global__ void __launch_bounds__(kMaxThreads) rms_norm_vector_kernel(NormArgs a) {
  // launch.cuh: the norm weight is a model weight (never written by a kernel), so its lines are
  // prefetched into L1 before waiting for the kernel before this one; y, z and out only after. A lone
  // decode row then costs one round trip for y and L1 hits for w after the reduction, not two round trips.
  start_dependents();
  const int64_t row = static_cast<int64_t>(blockIdx.x) / a.groups;
  const int64_t c0 = static_cast<int64_t>(blockIdx.x) % a.groups * a.group_size;
  const float4* w = reinterpret_cast<const float4*>(a.weight + c0);
  const int vectors = a.group_size / 4, tid = static_cast<int>(threadIdx.x), threads = static_cast<int>(blockDim.x);
  for (int i = tid * 8; i < vectors; i += threads * 8)  // one 128-byte line per 8 float4s
    asm volatile("prefetch.global.L1 [%0];" ::"l"(w + i));
  wait_for_predecessors();
  const float4* y = reinterpret_cast<const float4*>(a.y + row * a.y_stride + c0);
  const float4* z = a.z ? reinterpret_cast<const float4*>(a.z + row * a.z_stride + c0) : nullptr;
  float4* out = reinterpret_cast<float4*>(a.out + row * a.out_stride + c0);
  const bool gate_first = z != nullptr && !a.gate_last;
  const bool gate_after = z != nullptr && a.gate_last;
  auto value = [&](int i) { return gate_first ? y[i] * silu4(z[i]) : y[i]; };

  float4 v[kCachedVectors];
  float sum = 0.0f;
#pragma unroll
  for (int j = 0; j < kCachedVectors; ++j) {
    const int i = tid + threads * j;
    v[j] = i < vectors ? value(i) : make_float4(0.0f, 0.0f, 0.0f, 0.0f);
    sum = squares(v[j], sum);
  }
  for (int i = tid + threads * kCachedVectors; i < vectors; i += threads) sum = squares(value(i), sum);
  sum = block_sum(sum);  // its barrier orders every read above before any write below (out may alias y)
  const float rstd = 1.0f / sqrtf(sum / static_cast<float>(a.group_size) + a.eps);
  const float4 scale = make_float4(rstd, rstd, rstd, rstd);
#pragma unroll
  for (int j = 0; j < kCachedVectors; ++j) {
    const int i = tid + threads * j;
    if (i < vectors) {
      float4 r = v[j] * scale * w[i];
      if (gate_after) r = r * silu4(z[i]);
      out[i] = r;
    }
  }
  for (int i = tid + threads * kCachedVectors; i < vectors; i += threads) {
    float4 r = value(i) * scale * w[i];
    if (gate_after) r = r * silu4(z[i]);
    out[i] = r;
  }
}

bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

// About four channels per thread: enough threads to keep a lone decode row's loads in flight.
int threads_for(int64_t group_size) {
  const int64_t wanted = (group_size + 3) / 4;
  const int64_t rounded = (wanted + 31) / 32 * 32;
  return static_cast<int>(std::clamp<int64_t>(rounded, 32, kMaxThreads));
}

void launch(const Tensor& y, const Tensor* z, const Tensor& weight, const Tensor& out, int64_t groups,
            float eps, bool gate_last, const Exec& exec, const char* what) {
  const int64_t rows = y.size(0), width = y.size(1);
  if (rows == 0 || width == 0) return;
  NormArgs a;
  a.y = y.ptr<const float>();
  a.y_stride = y.stride(0);
  if (z) {
    a.z = z->ptr<const float>();
    a.z_stride = z->stride(0);
  }
  a.weight = weight.ptr<const float>();
  a.out = out.ptr<float>();
  a.out_stride = out.stride(0);
  a.group_size = static_cast<int>(width / groups);
  a.groups = groups;
  a.eps = eps;
  a.gate_last = gate_last;
  const int64_t items = rows * groups;
  const auto stream = static_cast<cudaStream_t>(exec.cuda().stream());
  // Aligned rows: about four float4s per thread; otherwise four scalars per thread.
  const bool vector = a.group_size % 4 == 0 && aligned16(a.y) && a.y_stride % 4 == 0 && aligned16(a.out) &&
                      a.out_stride % 4 == 0 && aligned16(a.weight) &&
                      (a.z == nullptr || (aligned16(a.z) && a.z_stride % 4 == 0));
  if (vector) {
    const int64_t vectors = a.group_size / 4;
    const int64_t wanted = ((vectors + 3) / 4 + 31) / 32 * 32;  // about four float4s per thread
    const int threads = static_cast<int>(std::clamp<int64_t>(wanted, 32, kMaxThreads));
    launch_kernel(rms_norm_vector_kernel, static_cast<unsigned>(items), threads, 0, stream, a);
  }
  else
    launch_kernel(rms_norm_kernel, static_cast<unsigned>(items), threads_for(a.group_size), 0, stream, a);
  strata::cuda::check_last_error(what);
}

}  // namespace

void gated_rms_norm(const GatedRmsNormParams& params, const Tensor& y, const Tensor& z, const Tensor& weight,
                    const Tensor& out, const Exec& exec) {
  launch(y, &z, weight, out, params.n_groups, params.eps, params.norm_before_gate, exec, "gated_rms_norm");
}

void rms_norm(const RmsNormParams& params, const Tensor& x, const Tensor& weight, const Tensor& out,
              const Exec& exec) {
  launch(x, nullptr, weight, out, 1, params.eps, false, exec, "rms_norm");
}

}  // namespace strata::kernels::cuda
