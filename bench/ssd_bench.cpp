// SSD prefill throughput of the chunked CPU scan, one Mamba2 layer, one sequence of T tokens, at the
// mamba2-130m and mamba2-2.7b mixer shapes (P=64, N=128, G=1, Q=256) on 1 and 2 threads. Reports tokens/s
// (items_per_second) and GFLOP/s counted over the chunked algorithm's products (causal halves only).
#include <benchmark/benchmark.h>

#include <memory>
#include <random>
#include <vector>

#include "strata/core/tensor.h"
#include "strata/core/thread_pool.h"
#include "strata/kernels/cpu/ssd_scan.h"
#include "strata/kernels/cpu/state_update.h"

namespace {

using strata::Buffer;
using strata::DType;
using strata::Tensor;
using strata::ThreadPool;
using namespace strata::kernels::cpu;

struct Shape {
  int64_t n_heads, head_dim, state_size, n_groups, chunk_size;
};

constexpr Shape kMamba2_130m{24, 64, 128, 1, 256};
constexpr Shape kMamba2_2_7b{80, 64, 128, 1, 256};

// Multiply-adds ×2 of the products the scan performs for one sequence of `tokens` tokens.
double chunked_flops(const Shape& s, int64_t tokens) {
  double flops = 0.0;
  for (int64_t begin = 0; begin < tokens; begin += s.chunk_size) {
    const double len = static_cast<double>(std::min(s.chunk_size, tokens - begin));
    const double causal_pairs = len * (len + 1) / 2;
    const double p = static_cast<double>(s.head_dim), n = static_cast<double>(s.state_size);
    flops += static_cast<double>(s.n_groups) * 2 * causal_pairs * n;  // C·Bᵀ, lower triangle
    flops += static_cast<double>(s.n_heads) * (2 * causal_pairs * p     // (L∘CB)·x
                                             + 2 * len * n * p        // C·S_in (off-diagonal)
                                             + 2 * len * n * p);      // Bᵀ·(w∘x) (chunk state)
  }
  return flops;
}

ThreadPool& pool_of(int threads) {
  static std::unique_ptr<ThreadPool> pools[3];
  auto& pool = pools[threads];
  if (!pool) pool = std::make_unique<ThreadPool>(threads);
  return *pool;
}

// One in_proj-like row per token, x | B | C | dt, so inputs are strided column windows as in the model;
// random values, decays A in [-7, -1].
struct LayerInputs {
  int64_t tokens, x_width, bc_width, row;
  std::vector<float> rows, y, a, d, dt_bias;
  Buffer states;

  LayerInputs(const Shape& shape, int64_t tokens_)
      : tokens(tokens_), x_width(shape.n_heads * shape.head_dim), bc_width(shape.n_groups * shape.state_size),
        row(x_width + 2 * bc_width + shape.n_heads), rows(static_cast<size_t>(tokens * row)),
        y(static_cast<size_t>(tokens * x_width)), a(static_cast<size_t>(shape.n_heads)), d(a.size()),
        dt_bias(a.size()), states(static_cast<size_t>(x_width * shape.state_size) * sizeof(float)) {
    std::mt19937 rng(1);
    std::uniform_real_distribution<float> unit(-1.0f, 1.0f);
    for (float& v : rows) v = unit(rng);
    for (size_t h = 0; h < a.size(); ++h) {
      a[h] = -1.0f - 3.0f * (unit(rng) + 1.0f);
      d[h] = unit(rng);
      dt_bias[h] = unit(rng);
    }
  }
  Tensor window(int64_t col, int64_t width) {
    Tensor t = Tensor::contiguous(rows.data() + col, DType::f32, {tokens, width});
    t.strides[0] = row;
    return t;
  }
  static Tensor vec(std::vector<float>& v) {
    return Tensor::contiguous(v.data(), DType::f32, {static_cast<int64_t>(v.size())});
  }
  Tensor x() { return window(0, x_width); }
  Tensor B() { return window(x_width, bc_width); }
  Tensor C() { return window(x_width + bc_width, bc_width); }
  Tensor dt() { return window(x_width + 2 * bc_width, static_cast<int64_t>(a.size())); }
  Tensor y_view() { return Tensor::contiguous(y.data(), DType::f32, {tokens, x_width}); }
  Tensor state_pool(const Shape& shape) {
    return states.view(DType::f32, {1, shape.n_heads, shape.head_dim, shape.state_size});
  }
};

// A single sequence continuing from slot 0's state.
struct OneSequence {
  std::vector<int64_t> cu_seqlens;
  std::vector<int32_t> slots = {0};
  std::vector<uint8_t> has_initial = {1};
  explicit OneSequence(int64_t tokens) : cu_seqlens{0, tokens} {}
  strata::kernels::VarlenBatch batch() const { return {cu_seqlens, slots, has_initial}; }
};

void BM_SsdPrefill(benchmark::State& state, Shape shape) {
  const int64_t tokens = state.range(0);
  const int threads = static_cast<int>(state.range(1));
  ThreadPool& pool = pool_of(threads);
  SsdParams params;
  params.n_heads = shape.n_heads;
  params.head_dim = shape.head_dim;
  params.state_size = shape.state_size;
  params.n_groups = shape.n_groups;
  params.chunk_size = shape.chunk_size;

  LayerInputs in(shape, tokens);
  const SsdInputs inputs{in.x(), in.dt(), in.B(), in.C(), LayerInputs::vec(in.a), LayerInputs::vec(in.d),
                         LayerInputs::vec(in.dt_bias)};
  const Tensor state_pool = in.state_pool(shape);
  const Tensor y_tensor = in.y_view();
  const OneSequence sequence(tokens);
  const strata::kernels::VarlenBatch batch = sequence.batch();
  const size_t bytes = ssd_workspace_bytes(params, tokens, 1, pool.size());
  Buffer workspace(bytes);
  check_ssd_scan(params, inputs, batch, state_pool, y_tensor, {}, bytes, pool.size());

  for (auto _ : state) {
    ssd_scan(params, inputs, batch, state_pool, y_tensor, {}, workspace.data(), bytes, pool);
    benchmark::DoNotOptimize(in.y.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * tokens);
  state.counters["GFLOP/s"] =
      benchmark::Counter(chunked_flops(shape, tokens) * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["MFLOP/token"] = chunked_flops(shape, tokens) * 1e-6 / static_cast<double>(tokens);
}

// The same prefill as a token-by-token recurrence (llama.cpp's CPU approach, ggml_ssm_scan): strata's own
// vectorised selective-state-update kernel run over the whole sequence, for a like-for-like comparison of
// the algorithms rather than of two code bases.
void BM_RecurrencePrefill(benchmark::State& state, Shape shape) {
  const int64_t tokens = state.range(0);
  ThreadPool& pool = pool_of(static_cast<int>(state.range(1)));
  LayerInputs in(shape, tokens);
  const SelectiveStateUpdateParams params{.n_heads = shape.n_heads, .head_dim = shape.head_dim,
                                          .state_size = shape.state_size, .n_groups = shape.n_groups};
  const SelectiveStateUpdateInputs inputs{in.x(), in.dt(), in.B(), in.C()};
  const SelectiveStateUpdateWeights weights{LayerInputs::vec(in.a), LayerInputs::vec(in.d), LayerInputs::vec(in.dt_bias)};
  const Tensor state_pool = in.state_pool(shape);
  const Tensor y_tensor = in.y_view();
  const OneSequence sequence(tokens);
  const strata::kernels::VarlenBatch batch = sequence.batch();
  check_selective_state_update(params, inputs, weights, batch, state_pool, Tensor{}, y_tensor);
  for (auto _ : state) {
    selective_state_update(params, inputs, weights, batch, state_pool, Tensor{}, y_tensor, pool);
    benchmark::DoNotOptimize(in.y.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * tokens);
}

void prefill_args(benchmark::internal::Benchmark* b) {
  b->ArgNames({"T", "threads"});
  for (int64_t tokens : {512, 2048})
    for (int64_t threads : {1, 2}) b->Args({tokens, threads});
  b->UseRealTime()->Unit(benchmark::kMillisecond);
}

BENCHMARK_CAPTURE(BM_SsdPrefill, mamba2_130m, kMamba2_130m)->Apply(prefill_args);
BENCHMARK_CAPTURE(BM_SsdPrefill, mamba2_2_7b, kMamba2_2_7b)->Apply(prefill_args);
BENCHMARK_CAPTURE(BM_RecurrencePrefill, mamba2_130m, kMamba2_130m)->Apply(prefill_args);
BENCHMARK_CAPTURE(BM_RecurrencePrefill, mamba2_2_7b, kMamba2_2_7b)->Apply(prefill_args);

}  // namespace

BENCHMARK_MAIN();
