// CUDA GEMM on the mamba2-2.7b projections (in_proj K=2560 N=10576, out_proj K=5120 N=2560, lm_head
// K=2560 N=50288): the skinny kernel and the cuBLAS path side by side for M = 1..64 tokens, bf16 and f32
// (exact) weights, plus cuBLAS alone at prefill sizes. Reports the weight bytes streamed per second
// (weight_GB/s, against the H200's ~4.3-4.8 TB/s), TFLOP/s and microseconds per call; the label says
// which variant `automatic` picks. The last M where skinny wins is kSkinnyMaxM (bf16/f16) and
// kSkinnyMaxMExact (f32) in kernels/cuda/gemm.h, which quotes this bench's figures.
//
// Each timed call reads a different copy of the weight (copies totalling ≥ 4× the L2), so every call
// streams its weight from HBM as a real decode step does (its ~5 GB of weights never fit the 50 MB L2).
// Time is GPU time from CUDA events around kCallsPerIteration back-to-back calls.
//
//   cuda_gemm_bench --benchmark_filter='bf16/M=1/'        batch-1 decode, both variants
//   cuda_gemm_bench --benchmark_filter='in_proj/bf16'     the crossover on one shape
// Builds without the CUDA backend too (CI builds every bench) and then only says so.
#include <cstdio>

#if STRATA_HAVE_CUDA

#include <benchmark/benchmark.h>
#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "strata/core/cuda_context.h"
#include "strata/core/cuda_runtime.h"
#include "strata/core/dtype.h"
#include "strata/core/exec.h"
#include "strata/core/tensor.h"
#include "strata/core/thread_pool.h"
#include "strata/kernels/cuda/gemm.h"
#include "strata/kernels/gemm.h"

namespace {

using strata::Buffer;
using strata::DType;
using strata::Tensor;
using strata::kernels::GemmParams;
using strata::kernels::cuda::GemmVariant;

struct Shape {
  const char* name;
  int64_t k, n;
};

const Shape kShapes[] = {
    {"mamba2-2.7b.in_proj", 2560, 10576},
    {"mamba2-2.7b.out_proj", 5120, 2560},
    {"mamba2-2.7b.lm_head", 2560, 50288},
};
const int64_t kDecodeTokens[] = {1, 2, 4, 8, 16, 32, 64};
const int64_t kPrefillTokens[] = {128, 512, 2048};
constexpr int kCallsPerIteration = 20;

strata::CudaContext& context() {
  static strata::CudaContext cuda(0);
  return cuda;
}

strata::Exec exec() {
  static strata::ThreadPool pool(1);
  return strata::Exec(context(), pool);
}

void check(cudaError_t status, const char* what) {
  if (status != cudaSuccess) {
    std::fprintf(stderr, "cuda_gemm_bench: %s: %s\n", what, cudaGetErrorString(status));
    std::exit(1);
  }
}

// Uniform values in [-0.5, 0.5) in `dtype`, made on the host once and uploaded.
Buffer device_random(int64_t count, DType dtype, uint32_t seed) {
  Buffer host(static_cast<size_t>(count) * strata::dtype_size(dtype));
  uint32_t state = seed;
  for (int64_t i = 0; i < count; ++i) {
    state = state * 1664525u + 1013904223u;
    const float v = static_cast<float>(state >> 8) / 16777216.0f - 0.5f;
    if (dtype == DType::f32)
      static_cast<float*>(host.data())[i] = v;
    else
      static_cast<uint16_t*>(host.data())[i] =
          dtype == DType::bf16 ? strata::f32_to_bf16(v) : strata::f32_to_f16(v);
  }
  Buffer device(host.size(), strata::Device::cuda);
  strata::cuda::copy(device.data(), host.data(), host.size());
  return device;
}

// Copies of one weight, together at least four times the L2, kept for the whole run.
const std::vector<Buffer>& weight_copies(const Shape& shape, DType dtype) {
  static std::map<std::tuple<int64_t, int64_t, DType>, std::vector<Buffer>> cache;
  auto& copies = cache[{shape.k, shape.n, dtype}];
  if (!copies.empty()) return copies;
  const size_t bytes = static_cast<size_t>(shape.k * shape.n) * strata::dtype_size(dtype);
  const size_t l2 = std::max<size_t>(context().info().l2_bytes, size_t{50} << 20);
  const size_t count = std::max<size_t>(2, (4 * l2 + bytes - 1) / bytes);
  copies.push_back(device_random(shape.k * shape.n, dtype, 12345));
  for (size_t i = 1; i < count; ++i) {
    Buffer copy(bytes, strata::Device::cuda);
    strata::cuda::copy(copy.data(), copies.front().data(), bytes);
    copies.push_back(std::move(copy));
  }
  return copies;
}

void run_gemm(benchmark::State& state, Shape shape, int64_t m, DType dtype, GemmVariant variant) {
  const std::vector<Buffer>& copies = weight_copies(shape, dtype);
  std::vector<Tensor> weights;
  for (const Buffer& b : copies) weights.push_back(b.view(dtype, {shape.n, shape.k}));
  const Buffer x_buffer = device_random(m * shape.k, DType::f32, 777);
  const Tensor x = x_buffer.view(DType::f32, {m, shape.k});
  Buffer y_buffer(static_cast<size_t>(m * shape.n) * sizeof(float), strata::Device::cuda);
  Tensor y = y_buffer.view(DType::f32, {m, shape.n});
  const GemmParams params;
  strata::kernels::check_gemm(x, weights.front(), y, params);

  // Warm up: sizes the GEMM scratch, loads the kernels, settles the clocks.
  for (const Tensor& w : weights) strata::kernels::cuda::gemm_with(variant, x, w, y, params, exec());
  context().synchronize();

  cudaEvent_t start = nullptr, stop = nullptr;
  check(cudaEventCreate(&start), "cudaEventCreate");
  check(cudaEventCreate(&stop), "cudaEventCreate");
  const auto stream = static_cast<cudaStream_t>(context().stream());
  double total_seconds = 0;
  int64_t calls = 0;
  size_t next = 0;
  for (auto _ : state) {
    check(cudaEventRecord(start, stream), "cudaEventRecord");
    for (int i = 0; i < kCallsPerIteration; ++i) {
      strata::kernels::cuda::gemm_with(variant, x, weights[next], y, params, exec());
      next = (next + 1) % weights.size();
    }
    check(cudaEventRecord(stop, stream), "cudaEventRecord");
    check(cudaEventSynchronize(stop), "cudaEventSynchronize");
    float ms = 0;
    check(cudaEventElapsedTime(&ms, start, stop), "cudaEventElapsedTime");
    state.SetIterationTime(ms * 1e-3);
    total_seconds += ms * 1e-3;
    calls += kCallsPerIteration;
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  strata::cuda::check_last_error("cuda_gemm_bench");

  const double per_call = calls > 0 ? total_seconds / static_cast<double>(calls) : 0.0;
  const double weight_bytes =
      static_cast<double>(shape.n * shape.k) * static_cast<double>(strata::dtype_size(dtype));
  const double flops = 2.0 * static_cast<double>(m) * static_cast<double>(shape.n * shape.k);
  if (per_call > 0) {
    state.counters["weight_GB/s"] = weight_bytes / per_call * 1e-9;
    state.counters["TFLOP/s"] = flops / per_call * 1e-12;
    state.counters["us/call"] = per_call * 1e6;
  }
  const GemmVariant chosen = strata::kernels::cuda::gemm_variant_for(m, dtype);
  state.SetLabel(std::string(strata::kernels::cuda::gemm_variant_name(variant)) +
                 (chosen == variant ? " (auto)" : ""));
}

void add(const std::string& name, Shape shape, int64_t m, DType dtype, GemmVariant variant) {
  benchmark::RegisterBenchmark(name.c_str(),
                               [=](benchmark::State& s) { run_gemm(s, shape, m, dtype, variant); })
      ->UseManualTime()
      ->Unit(benchmark::kMicrosecond)
      ->MinTime(0.1);
}

void register_all() {
  for (const Shape& shape : kShapes)
    for (DType dtype : {DType::bf16, DType::f32}) {
      const std::string prefix =
          std::string("cuda_gemm/") + shape.name + "/" + std::string(strata::dtype_name(dtype));
      for (int64_t m : kDecodeTokens)
        for (GemmVariant variant : {GemmVariant::skinny, GemmVariant::cublas})
          add(prefix + "/M=" + std::to_string(m) + "/" + strata::kernels::cuda::gemm_variant_name(variant),
              shape, m, dtype, variant);
      if (dtype == DType::bf16)
        for (int64_t m : kPrefillTokens)
          add(prefix + "/M=" + std::to_string(m) + "/cublas", shape, m, dtype, GemmVariant::cublas);
    }
}

}  // namespace

int main(int argc, char** argv) {
  if (strata::cuda::device_count() == 0) {
    std::printf("cuda_gemm_bench: no CUDA GPU (%s): nothing to measure\n",
                strata::cuda::unavailable_reason().c_str());
    return 0;
  }
  register_all();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

#else  // !STRATA_HAVE_CUDA

int main() {
  std::printf("cuda_gemm_bench: this build has no CUDA backend: nothing to measure\n");
  return 0;
}

#endif
