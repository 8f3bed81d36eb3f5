// State-cache throughput: snapshot save/restore, fork, rollback and the checksum, each next to a plain
// memcpy of the same bytes (the machine's limit for a copy). Prefix-store lookup on a long prompt.
// Shapes: one Nemotron-H-8B-like Mamba layer (conv_dim 10240, K 4, H 128, P 64, N 128) x 4 layers.
#include <benchmark/benchmark.h>

#include <cstring>
#include <vector>

#include "strata/cache/hash64.h"
#include "strata/cache/prefix_store.h"
#include "strata/cache/snapshot.h"
#include "strata/cache/state_cache.h"

namespace {

using namespace strata;
using namespace strata::cache;

StateCacheConfig bench_config(DType state_dtype) {
  StateCacheConfig config;
  for (int l = 0; l < 4; ++l) config.layers.push_back({10240, 4, 128, 64, 128, DType::f32, state_dtype});
  config.max_sequences = 2;
  config.speculative_tokens = 3;
  config.model_id = "bench";
  return config;
}

void BM_Memcpy(benchmark::State& state) {
  MambaStateCache cache(bench_config(DType::f32));
  const size_t bytes = cache.bytes_per_sequence();
  std::vector<uint8_t> a(bytes, 1), b(bytes);
  for (auto _ : state) {
    std::memcpy(b.data(), a.data(), bytes);
    benchmark::DoNotOptimize(b.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * bytes));
}
BENCHMARK(BM_Memcpy)->Unit(benchmark::kMillisecond);

void BM_Hash64(benchmark::State& state) {
  std::vector<uint8_t> data(16 << 20, 3);
  for (auto _ : state) benchmark::DoNotOptimize(hash64(data.data(), data.size(), 1));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * data.size()));
}
BENCHMARK(BM_Hash64)->Unit(benchmark::kMillisecond);

void BM_SaveSnapshot(benchmark::State& state) {
  MambaStateCache cache(bench_config(state.range(0) ? DType::bf16 : DType::f32));
  const int slot = cache.allocate();
  for (auto _ : state) benchmark::DoNotOptimize(save_snapshot(cache, slot).data());
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * cache.bytes_per_sequence()));
}
BENCHMARK(BM_SaveSnapshot)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);

void BM_RestoreSnapshot(benchmark::State& state) {
  MambaStateCache cache(bench_config(state.range(0) ? DType::bf16 : DType::f32));
  const int slot = cache.allocate();
  const std::vector<uint8_t> bytes = save_snapshot(cache, slot);
  for (auto _ : state) restore_snapshot(cache, slot, bytes);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * cache.bytes_per_sequence()));
}
BENCHMARK(BM_RestoreSnapshot)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);

void BM_Fork(benchmark::State& state) {
  MambaStateCache cache(bench_config(DType::f32));
  const int a = cache.allocate(), b = cache.allocate();
  for (auto _ : state) cache.fork(a, b);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * cache.bytes_per_sequence()));
}
BENCHMARK(BM_Fork)->Unit(benchmark::kMillisecond);

void BM_Rollback(benchmark::State& state) {
  MambaStateCache cache(bench_config(state.range(0) ? DType::bf16 : DType::f32));
  const int slot = cache.allocate();
  for (auto _ : state) {
    cache.set_position(slot, 4);
    cache.rollback(slot, 3, 1);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * cache.bytes_per_sequence()));
}
BENCHMARK(BM_Rollback)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);

// Lookup of a 32k-token prompt against a store holding every 256-token boundary of it.
void BM_PrefixLookup(benchmark::State& state) {
  PrefixStore store({.block_size = 256, .byte_budget = size_t{1} << 30});
  std::vector<int32_t> tokens(32768);
  for (size_t i = 0; i < tokens.size(); ++i) tokens[i] = static_cast<int32_t>(i * 7919 % 50000);
  for (size_t n = 256; n <= tokens.size(); n += 256)
    store.insert(std::span<const int32_t>(tokens).first(n), StateBlob(64));
  for (auto _ : state) benchmark::DoNotOptimize(store.lookup(tokens).tokens);
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * tokens.size()));
}
BENCHMARK(BM_PrefixLookup)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
