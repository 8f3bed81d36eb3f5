// This machine's limits, the yardsticks every kernel figure is reported against: peak f32 FLOP/s
// (an AVX-512 FMA loop with enough independent accumulators to hide latency) and memory bandwidth
// (streaming read, copy and triad over buffers far larger than the last-level cache), per thread count.
#include <algorithm>
#include <cstring>

#include <benchmark/benchmark.h>
#include <immintrin.h>

#include "strata/core/tensor.h"
#include "strata/core/thread_pool.h"

namespace {

using strata::Buffer;
using strata::ThreadPool;

constexpr int64_t kFmaIterations = 1 << 24;

#if defined(__AVX512F__)
// 12 independent FMA chains of 16 lanes: latency 4 × up to 2 FMA/cycle needs at least 8 in flight.
float fma_chains(int64_t iterations) {
  __m512 acc[12];
  for (int i = 0; i < 12; ++i) acc[i] = _mm512_set1_ps(static_cast<float>(i) * 1e-3f);
  const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
  for (int64_t it = 0; it < iterations; ++it) {
#pragma GCC unroll 12
    for (int i = 0; i < 12; ++i) acc[i] = _mm512_fmadd_ps(acc[i], a, b);
  }
  __m512 s = acc[0];
  for (int i = 1; i < 12; ++i) s = _mm512_add_ps(s, acc[i]);
  float out[16];
  _mm512_storeu_ps(out, s);
  return out[0];
}
#endif

#if defined(__AVX512BF16__)
// The same with vdpbf16ps (2 bf16 products per f32 lane): what a bf16-input kernel could reach.
float bf16_dot_chains(int64_t iterations) {
  __m512 acc[12];
  for (int i = 0; i < 12; ++i) acc[i] = _mm512_setzero_ps();
  const __m512bh a = _mm512_cvtne2ps_pbh(_mm512_set1_ps(0.5f), _mm512_set1_ps(0.25f));
  for (int64_t it = 0; it < iterations; ++it) {
#pragma GCC unroll 12
    for (int i = 0; i < 12; ++i) acc[i] = _mm512_dpbf16_ps(acc[i], a, a);
  }
  __m512 s = acc[0];
  for (int i = 1; i < 12; ++i) s = _mm512_add_ps(s, acc[i]);
  float out[16];
  _mm512_storeu_ps(out, s);
  return out[0];
}
#endif

[[maybe_unused]] void peak_flops(benchmark::State& state, float (*loop)(int64_t), double flops_per_lane_op) {
  const int threads = static_cast<int>(state.range(0));
  ThreadPool pool(threads);
  for (auto _ : state) {
    pool.parallel_for(threads, [&](int64_t, int64_t) { benchmark::DoNotOptimize(loop(kFmaIterations)); });
  }
  const double flops = static_cast<double>(threads) * kFmaIterations * 12 * 16 * flops_per_lane_op;
  state.counters["FLOP/s"] = benchmark::Counter(flops, benchmark::Counter::kIsIterationInvariantRate);
}

// Sums a slice with 64 independent lanes (four zmm accumulators once vectorised) so the loop is bound
// by loads alone.
float read_slice(const float* p, int64_t n) {
  alignas(64) float lanes[64] = {};
  for (int64_t i = 0; i + 64 <= n; i += 64)
    for (int j = 0; j < 64; ++j) lanes[j] += p[i + j];
  float sum = 0.0f;
  for (float v : lanes) sum += v;
  return sum;
}

constexpr size_t kStreamBytes = size_t{1} << 30;  // 1 GiB: 32× the L3

void BM_MemoryRead(benchmark::State& state) {
  const int threads = static_cast<int>(state.range(0));
  ThreadPool pool(threads);
  Buffer buffer(kStreamBytes);
  const int64_t n = static_cast<int64_t>(kStreamBytes / sizeof(float));
  const float* data = static_cast<const float*>(buffer.data());
  for (auto _ : state) {
    pool.parallel_for(threads, [&](int64_t begin, int64_t end) {
      const int64_t lo = n * begin / threads, hi = n * end / threads;
      benchmark::DoNotOptimize(read_slice(data + lo, hi - lo));
    });
  }
  state.counters["bytes/s"] = benchmark::Counter(static_cast<double>(kStreamBytes),
                                                 benchmark::Counter::kIsIterationInvariantRate);
}

// STREAM conventions: copy moves 2 bytes per byte copied, triad (a = b + s·c) 3; write-allocate
// traffic is not counted.
void BM_MemoryCopy(benchmark::State& state) {
  const int threads = static_cast<int>(state.range(0));
  ThreadPool pool(threads);
  const size_t bytes = kStreamBytes / 2;
  Buffer src(bytes), dst(bytes);
  char* s = static_cast<char*>(src.data());
  char* d = static_cast<char*>(dst.data());
  for (auto _ : state) {
    pool.parallel_for(threads, [&](int64_t begin, int64_t end) {
      const size_t lo = bytes * static_cast<size_t>(begin) / static_cast<size_t>(threads);
      const size_t hi = bytes * static_cast<size_t>(end) / static_cast<size_t>(threads);
      std::memcpy(d + lo, s + lo, hi - lo);
    });
    benchmark::ClobberMemory();
  }
  state.counters["bytes/s"] = benchmark::Counter(2.0 * static_cast<double>(bytes),
                                                 benchmark::Counter::kIsIterationInvariantRate);
}

void BM_MemoryTriad(benchmark::State& state) {
  const int threads = static_cast<int>(state.range(0));
  ThreadPool pool(threads);
  const size_t bytes = kStreamBytes / 4;
  const int64_t n = static_cast<int64_t>(bytes / sizeof(float));
  Buffer a(bytes), b(bytes), c(bytes);
  float* pa = static_cast<float*>(a.data());
  const float* pb = static_cast<const float*>(b.data());
  const float* pc = static_cast<const float*>(c.data());
  for (auto _ : state) {
    pool.parallel_for(threads, [&](int64_t begin, int64_t end) {
      const int64_t lo = n * begin / threads, hi = n * end / threads;
      for (int64_t i = lo; i < hi; ++i) pa[i] = pb[i] + 3.0f * pc[i];
    });
    benchmark::ClobberMemory();
  }
  state.counters["bytes/s"] = benchmark::Counter(3.0 * static_cast<double>(bytes),
                                                 benchmark::Counter::kIsIterationInvariantRate);
}

}  // namespace

#if defined(__AVX512F__)
void BM_PeakF32FmaAvx512(benchmark::State& state) { peak_flops(state, fma_chains, 2.0); }
BENCHMARK(BM_PeakF32FmaAvx512)->Arg(1)->Arg(2)->UseRealTime()->MeasureProcessCPUTime();
#endif
#if defined(__AVX512BF16__)
void BM_PeakBf16DotAvx512(benchmark::State& state) { peak_flops(state, bf16_dot_chains, 4.0); }
BENCHMARK(BM_PeakBf16DotAvx512)->Arg(1)->Arg(2)->UseRealTime()->MeasureProcessCPUTime();
#endif
BENCHMARK(BM_MemoryRead)->Arg(1)->Arg(2)->UseRealTime()->MeasureProcessCPUTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_MemoryCopy)->Arg(1)->Arg(2)->UseRealTime()->MeasureProcessCPUTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_MemoryTriad)->Arg(1)->Arg(2)->UseRealTime()->MeasureProcessCPUTime()->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();
