// GEMM throughput on the projection shapes of the models we run, per kernel, weight dtype and token
// count M. Prefill (large M) is reported as FLOP/s against bench/machine_bench's FMA peak; decode
// (small M) as weight bytes streamed per second against its memory-read bandwidth.
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "strata/core/tensor.h"
#include "strata/core/thread_pool.h"
#include "strata/kernels/cpu/gemm.h"

// OpenBLAS's own control (cblas.h is not on the bench include path): the `openblas` kernel is run
// single-threaded inside our pool; the `openblas_threads` baseline lets OpenBLAS thread itself.
extern "C" void openblas_set_num_threads(int num_threads);

namespace {

using strata::Buffer;
using strata::DType;
using strata::Tensor;
using strata::ThreadPool;
using strata::kernels::GemmKernel;
using strata::kernels::GemmParams;

struct Shape {
  const char* name;
  int64_t k, n;
};

const Shape kShapes[] = {
    {"mamba2-130m.in_proj", 768, 3352},   {"mamba2-130m.out_proj", 1536, 768},
    {"mamba2-2.7b.in_proj", 2560, 10576}, {"mamba2-2.7b.out_proj", 5120, 2560},
    {"nemotron-h-8b.mlp_up", 4096, 21504},
};
const int64_t kTokens[] = {1, 8, 16, 32, 512, 2048};

// Filled with small non-denormal values once per (rows, cols, dtype) and kept for the whole run.
const Tensor& operand(int64_t rows, int64_t cols, DType dtype) {
  static std::map<std::tuple<int64_t, int64_t, DType>, std::unique_ptr<Buffer>> cache;
  static std::map<std::tuple<int64_t, int64_t, DType>, Tensor> views;
  const auto key = std::make_tuple(rows, cols, dtype);
  auto it = views.find(key);
  if (it != views.end()) return it->second;
  auto buffer = std::make_unique<Buffer>(static_cast<size_t>(rows * cols) * strata::dtype_size(dtype));
  uint32_t state = 12345;
  for (int64_t i = 0; i < rows * cols; ++i) {
    state = state * 1664525u + 1013904223u;
    const float v = static_cast<float>(state >> 8) / 16777216.0f - 0.5f;
    if (dtype == DType::f32) static_cast<float*>(buffer->data())[i] = v;
    else if (dtype == DType::bf16) static_cast<uint16_t*>(buffer->data())[i] = strata::f32_to_bf16(v);
    else static_cast<uint16_t*>(buffer->data())[i] = strata::f32_to_f16(v);
  }
  Tensor view = buffer->view(dtype, {rows, cols});
  cache[key] = std::move(buffer);
  return views[key] = view;
}

void run_gemm(benchmark::State& state, Shape shape, int64_t m, DType dtype, GemmKernel kernel, bool blas_threads) {
  ThreadPool& pool = ThreadPool::global();
  const Tensor& x = operand(m, shape.k, DType::f32);
  const Tensor& w = operand(shape.n, shape.k, dtype);
  Buffer y_buffer(static_cast<size_t>(m * shape.n) * sizeof(float));
  Tensor y = y_buffer.view(DType::f32, {m, shape.n});
  GemmParams params;
  params.kernel = kernel;
  strata::kernels::check_gemm(x, w, y, params);
  openblas_set_num_threads(blas_threads ? pool.size() : 1);
  ThreadPool single(1);
  for (auto _ : state) {
    // The OpenBLAS-threaded baseline gets one call on the whole problem, threaded by OpenBLAS.
    strata::kernels::gemm(x, w, y, params, blas_threads ? single : pool);
    benchmark::ClobberMemory();
  }
  const double flops = 2.0 * static_cast<double>(m * shape.n * shape.k);
  const double weight_bytes = static_cast<double>(shape.n * shape.k) * static_cast<double>(strata::dtype_size(dtype));
  state.counters["FLOP/s"] = benchmark::Counter(flops, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["weight_B/s"] = benchmark::Counter(weight_bytes, benchmark::Counter::kIsIterationInvariantRate);
  state.SetLabel(strata::kernels::cpu::gemm_kernel_name(kernel == GemmKernel::automatic
                                                       ? strata::kernels::cpu::gemm_kernel_for(m, dtype)
                                                       : kernel));
}

void register_all() {
  struct KernelChoice {
    const char* name;
    GemmKernel kernel;
    bool blas_threads;
  };
  const KernelChoice kernels[] = {
      {"auto", GemmKernel::automatic, false},     {"rows", GemmKernel::rows, false},
      {"panels", GemmKernel::panels, false},      {"openblas", GemmKernel::openblas, false},
      {"openblas_threads", GemmKernel::openblas, true}, {"portable", GemmKernel::portable, false},
  };
  for (const Shape& shape : kShapes) {
    for (DType dtype : {DType::bf16, DType::f32, DType::f16}) {
      for (int64_t m : kTokens) {
        for (const KernelChoice& kc : kernels) {
          if (kc.kernel == GemmKernel::portable && m > 8) continue;  // minutes per run at prefill sizes
          const std::string name = std::string("gemm/") + shape.name + "/" + std::string(strata::dtype_name(dtype)) +
                                   "/M=" + std::to_string(m) + "/" + kc.name;
          benchmark::RegisterBenchmark(name.c_str(), [=](benchmark::State& s) {
            run_gemm(s, shape, m, dtype, kc.kernel, kc.blas_threads);
          })->UseRealTime()->MeasureProcessCPUTime()->Unit(benchmark::kMillisecond)->MinTime(0.2);
        }
      }
    }
  }
  // Where `automatic` should switch from rows to panels: both kernels over a sweep of token counts.
  for (const Shape& shape : {kShapes[0], kShapes[2]}) {
    for (int64_t m : {4, 8, 12, 14, 16, 24, 28, 32, 48, 64, 128}) {
      for (const KernelChoice& kc : {kernels[1], kernels[2]}) {
        const std::string name =
            std::string("crossover/") + shape.name + "/bf16/M=" + std::to_string(m) + "/" + kc.name;
        benchmark::RegisterBenchmark(name.c_str(), [=](benchmark::State& s) {
          run_gemm(s, shape, m, DType::bf16, kc.kernel, false);
        })->UseRealTime()->MeasureProcessCPUTime()->Unit(benchmark::kMillisecond)->MinTime(0.2);
      }
    }
  }
}

}  // namespace

// Everything is registered; pick with --benchmark_filter, e.g.
//   gemm_bench --benchmark_filter='bf16/M=(1|8)/auto'       decode shapes, chosen kernel
//   gemm_bench --benchmark_filter='in_proj/bf16/M=512/'     every kernel on one prefill shape
//   gemm_bench --threads=1 ...                             one core (default: all hardware threads)
int main(int argc, char** argv) {
  // Our own flag, taken out before Google Benchmark sees the arguments.
  int kept = 1;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg.rfind("--threads=", 0) == 0) ThreadPool::set_default_threads(std::stoi(arg.substr(10)));
    else argv[kept++] = argv[i];
  }
  argc = kept;
  register_all();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
