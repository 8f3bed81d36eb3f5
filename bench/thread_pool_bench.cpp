// Dispatch latency of ThreadPool::parallel_for: a decode step calls it a few hundred times, so its fixed
// cost (waking workers, waiting for them) is paid per layer per token.
#include <atomic>

#include <benchmark/benchmark.h>

#include "strata/core/thread_pool.h"

static void BM_ParallelForEmpty(benchmark::State& state) {
  strata::ThreadPool pool(static_cast<int>(state.range(0)));
  std::atomic<int64_t> sink{0};
  for (auto _ : state) {
    pool.parallel_for(64, [&](int64_t b, int64_t e) { sink.fetch_add(e - b, std::memory_order_relaxed); });
  }
  benchmark::DoNotOptimize(sink.load());
}
BENCHMARK(BM_ParallelForEmpty)->Arg(1)->Arg(2)->UseRealTime();

BENCHMARK_MAIN();
