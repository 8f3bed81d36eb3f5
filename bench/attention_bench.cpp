// Decode attention of one 8B-like layer (Hq=32, Hkv=8, head_dim=128) on the paged KV cache at 1k and 8k
// context, batch 1 and 8, f32 and bf16 pools. Decode attention is bound by reading the cache, so the
// counter is KV bytes read per second; compare with machine_bench's streaming read bandwidth. Layers
// rotate so the working set exceeds the last-level cache even at 1k x batch 1. Prefill (one fresh
// sequence) is compute bound and reports FLOP/s (4·hd·Hq per visible query-key pair), next to
// machine_bench's peak.
#include <algorithm>
#include <cstdint>
#include <memory>
#include <vector>

#include <benchmark/benchmark.h>

#include "strata/cache/kv_cache.h"
#include "strata/core/tensor.h"
#include "strata/core/thread_pool.h"
#include "strata/kernels/cpu/attention.h"

namespace {

using namespace strata;
using namespace strata::kernels::cpu;

constexpr int64_t kHq = 32, kHkv = 8, kHeadDim = 128;

// args: context (tokens already cached + this one), batch, bf16 pools (0 = f32), threads.
void BM_DecodeAttention(benchmark::State& state) {
  const int64_t context = state.range(0), batch = state.range(1);
  const DType dtype = state.range(2) ? DType::bf16 : DType::f32;
  ThreadPool pool(static_cast<int>(state.range(3)));

  const int64_t kv_bytes_per_layer =
      batch * context * 2 * kHkv * kHeadDim * static_cast<int64_t>(dtype_size(dtype));
  const int layers = static_cast<int>(std::max<int64_t>(2, (256 << 20) / kv_bytes_per_layer + 1));
  cache::KvCacheConfig config;
  config.num_layers = layers;
  config.n_kv_heads = kHkv;
  config.head_dim = kHeadDim;
  config.block_size = 16;
  config.max_slots = static_cast<int>(batch);
  config.num_blocks = batch * ((context + 15) / 16);
  config.dtype = dtype;
  cache::PagedKvCache kv(config);
  for (int s = 0; s < batch; ++s)
    if (!kv.reserve(s, context)) state.SkipWithError("pool too small");

  // Random keys make the softmax non-trivial; a cheap generator keeps the setup of 1 GiB pools short.
  uint32_t seed = 12345;
  auto next_value = [&seed] {
    seed = seed * 1664525u + 1013904223u;
    return static_cast<float>(seed >> 8) * (1.0f / 16777216.0f) - 0.5f;
  };
  for (int l = 0; l < layers; ++l)
    for (const Tensor& pool_view : {kv.k_pool(l), kv.v_pool(l)}) {
      const int64_t n = pool_view.numel();
      for (int64_t i = 0; i < n; ++i) {
        if (dtype == DType::bf16)
          pool_view.ptr<uint16_t>()[i] = f32_to_bf16(next_value());
        else
          pool_view.ptr<float>()[i] = next_value();
      }
    }

  const int64_t qkv_width = (kHq + 2 * kHkv) * kHeadDim;
  std::vector<float> qkv(static_cast<size_t>(batch * qkv_width)), out(static_cast<size_t>(batch * kHq * kHeadDim));
  for (float& v : qkv) v = 4.0f * next_value();
  std::vector<int64_t> cu(static_cast<size_t>(batch + 1)), starts(static_cast<size_t>(batch), context - 1);
  std::vector<int32_t> slots(static_cast<size_t>(batch));
  std::vector<uint8_t> initial(static_cast<size_t>(batch), 1);
  for (int64_t s = 0; s < batch; ++s) {
    cu[static_cast<size_t>(s + 1)] = s + 1;
    slots[static_cast<size_t>(s)] = static_cast<int32_t>(s);
  }
  auto window = [&](int64_t column, int64_t width) {
    Tensor t = Tensor::contiguous(qkv.data() + column, DType::f32, {batch, width});
    t.strides[0] = qkv_width;
    return t;
  };
  const kernels::VarlenBatch varlen{cu, slots, initial};
  const PagedAttentionParams params{kHq, kHkv, kHeadDim, 0, 0.0f};
  const PagedAttentionInputs inputs{window(0, kHq * kHeadDim), window(kHq * kHeadDim, kHkv * kHeadDim),
                                    window((kHq + kHkv) * kHeadDim, kHkv * kHeadDim)};
  const Tensor out_view = Tensor::contiguous(out.data(), DType::f32, {batch, kHq * kHeadDim});
  check_paged_attention(params, varlen, starts, inputs, {kv.k_pool(0), kv.v_pool(0), kv.block_tables()}, out_view);

  int layer = 0;
  for (auto _ : state) {
    const PagedKv layer_kv{kv.k_pool(layer), kv.v_pool(layer), kv.block_tables()};
    paged_attention(params, varlen, starts, inputs, layer_kv, out_view, pool);
    benchmark::DoNotOptimize(out.data());
    layer = (layer + 1) % layers;
  }
  state.counters["KV_bytes/s"] = benchmark::Counter(static_cast<double>(kv_bytes_per_layer),
                                                    benchmark::Counter::kIsIterationInvariantRate,
                                                    benchmark::Counter::kIs1024);
  state.counters["tokens/s"] = benchmark::Counter(static_cast<double>(batch),
                                                  benchmark::Counter::kIsIterationInvariantRate);
}

// args: prompt tokens, threads. One fresh sequence, f32 pool.
void BM_PrefillAttention(benchmark::State& state) {
  const int64_t tokens = state.range(0);
  ThreadPool pool(static_cast<int>(state.range(1)));
  cache::KvCacheConfig config;
  config.num_layers = 1;
  config.n_kv_heads = kHkv;
  config.head_dim = kHeadDim;
  config.max_slots = 1;
  config.num_blocks = (tokens + 15) / 16;
  cache::PagedKvCache kv(config);
  if (!kv.reserve(0, tokens)) state.SkipWithError("pool too small");
  const int64_t qkv_width = (kHq + 2 * kHkv) * kHeadDim;
  std::vector<float> qkv(static_cast<size_t>(tokens * qkv_width)), out(static_cast<size_t>(tokens * kHq * kHeadDim));
  uint32_t seed = 7;
  for (float& v : qkv) {
    seed = seed * 1664525u + 1013904223u;
    v = static_cast<float>(seed >> 8) * (1.0f / 8388608.0f) - 1.0f;
  }
  const std::vector<int64_t> cu{0, tokens}, starts{0};
  const std::vector<int32_t> slots{0};
  const std::vector<uint8_t> initial{0};
  auto window = [&](int64_t column, int64_t width) {
    Tensor t = Tensor::contiguous(qkv.data() + column, DType::f32, {tokens, width});
    t.strides[0] = qkv_width;
    return t;
  };
  const kernels::VarlenBatch varlen{cu, slots, initial};
  const PagedAttentionParams params{kHq, kHkv, kHeadDim, 0, 0.0f};
  const PagedAttentionInputs inputs{window(0, kHq * kHeadDim), window(kHq * kHeadDim, kHkv * kHeadDim),
                                    window((kHq + kHkv) * kHeadDim, kHkv * kHeadDim)};
  const Tensor out_view = Tensor::contiguous(out.data(), DType::f32, {tokens, kHq * kHeadDim});
  const PagedKv layer_kv{kv.k_pool(0), kv.v_pool(0), kv.block_tables()};
  check_paged_attention(params, varlen, starts, inputs, layer_kv, out_view);
  for (auto _ : state) {
    paged_attention(params, varlen, starts, inputs, layer_kv, out_view, pool);
    benchmark::DoNotOptimize(out.data());
  }
  const double pairs = static_cast<double>(tokens) * static_cast<double>(tokens + 1) / 2.0;
  state.counters["FLOP/s"] = benchmark::Counter(4.0 * kHeadDim * kHq * pairs, benchmark::Counter::kIsIterationInvariantRate);
}

void decode_args(benchmark::internal::Benchmark* b) {
  b->ArgNames({"context", "batch", "bf16", "threads"});
  for (int64_t context : {1024, 8192})
    for (int64_t batch : {1, 8})
      for (int64_t bf16 : {0, 1})
        for (int64_t threads : {1, 2}) b->Args({context, batch, bf16, threads});
}

BENCHMARK(BM_DecodeAttention)->Apply(decode_args)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_PrefillAttention)
    ->ArgNames({"tokens", "threads"})
    ->ArgsProduct({{512, 2048}, {1, 2}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
