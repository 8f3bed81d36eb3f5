// MoE layer forward (route → gather → experts → mix → shared) on Nemotron-3-Nano-30B-A3B's shape:
// hidden 2688, 128 experts, top-6, relu² experts of 1856, shared expert of 3712, bf16 weights.
// Decode (T = 1..8) is reported as weight bytes actually read per second (router + chosen experts +
// shared), to set against bench/machine_bench's memory-read bandwidth; prefill as tokens per second.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <memory>
#include <set>
#include <vector>

#include "strata/core/tensor.h"
#include "strata/core/thread_pool.h"
#include "strata/kernels/cpu/gemm.h"
#include "strata/model/moe_layer.h"

namespace {

using strata::Buffer;
using strata::DType;
using strata::Tensor;
using namespace strata::model;

constexpr int64_t kHidden = 2688, kExperts = 128, kTopK = 6, kExpertInter = 1856, kSharedInter = 3712;
constexpr int64_t kInputs = 16;  // distinct inputs cycled through, so the chosen experts change

struct Model {
  std::vector<std::unique_ptr<Buffer>> buffers;
  MoeWeights weights;
  MoeConfig config;
  std::vector<float> inputs;

  Tensor fill(int64_t rows, int64_t cols, DType dtype, float scale, uint32_t seed) {
    const int64_t n = cols == 0 ? rows : rows * cols;  // cols 0: a vector
    auto buffer = std::make_unique<Buffer>(static_cast<size_t>(n) * strata::dtype_size(dtype));
    uint32_t state = seed * 2654435761u + 1;
    for (int64_t i = 0; i < n; ++i) {
      state = state * 1664525u + 1013904223u;
      const float v = scale * (static_cast<float>(state >> 8) / 16777216.0f - 0.5f);
      if (dtype == DType::f32)
        static_cast<float*>(buffer->data())[i] = v;
      else
        static_cast<uint16_t*>(buffer->data())[i] = strata::f32_to_bf16(v);
    }
    Tensor view = cols == 0 ? buffer->view(dtype, {rows}) : buffer->view(dtype, {rows, cols});
    buffers.push_back(std::move(buffer));
    return view;
  }

  Model() {
    weights.router = fill(kExperts, kHidden, DType::bf16, 0.2f, 1);
    weights.correction_bias = fill(kExperts, 0, DType::f32, 0.1f, 2);
    for (int64_t e = 0; e < kExperts; ++e) {
      MlpWeights w;
      w.up = fill(kExpertInter, kHidden, DType::bf16, 0.05f, 10 + static_cast<uint32_t>(e));
      w.down = fill(kHidden, kExpertInter, DType::bf16, 0.05f, 1000 + static_cast<uint32_t>(e));
      weights.experts.push_back(w);
    }
    weights.shared.up = fill(kSharedInter, kHidden, DType::bf16, 0.05f, 3);
    weights.shared.down = fill(kHidden, kSharedInter, DType::bf16, 0.05f, 4);
    config.routing.top_k = kTopK;
    config.routing.norm_topk_prob = true;
    config.routing.routed_scaling_factor = 2.5f;
    inputs.resize(static_cast<size_t>(kInputs * 64 * kHidden));
    uint32_t state = 99;
    for (auto& v : inputs) {
      state = state * 1664525u + 1013904223u;
      v = static_cast<float>(state >> 8) / 16777216.0f - 0.5f;
    }
  }
};

Model& model() {
  static Model m;
  return m;
}

void BM_MoeForward(benchmark::State& state) {
  Model& m = model();
  const int64_t tokens = state.range(0);
  strata::ThreadPool& pool = strata::ThreadPool::global();
  std::vector<float> out(static_cast<size_t>(tokens * kHidden));
  Tensor ot = Tensor::contiguous(out.data(), DType::f32, {tokens, kHidden});
  strata::Workspace ws;
  int64_t step = 0;
  double weight_bytes = 0;
  for (auto _ : state) {
    const int64_t input = step++ % kInputs;
    Tensor xt = Tensor::contiguous(m.inputs.data() + input * 64 * kHidden, DType::f32, {tokens, kHidden});
    ws.reset();
    moe_forward(m.weights, m.config, xt, nullptr, ot, ws, pool);
    benchmark::DoNotOptimize(out.data());
  }
  // Bytes read for one step of the first input: router, shared expert, each distinct chosen expert.
  {
    Tensor xt = Tensor::contiguous(m.inputs.data(), DType::f32, {tokens, kHidden});
    ws.reset();
    std::vector<float> logits(static_cast<size_t>(tokens * kExperts));
    std::vector<int32_t> ids(static_cast<size_t>(tokens * kTopK));
    std::vector<float> mix(ids.size());
    Tensor lt = Tensor::contiguous(logits.data(), DType::f32, {tokens, kExperts});
    Tensor it = Tensor::contiguous(ids.data(), DType::i32, {tokens, kTopK});
    Tensor mt = Tensor::contiguous(mix.data(), DType::f32, {tokens, kTopK});
    strata::kernels::gemm(xt, m.weights.router, lt, {}, pool);
    strata::kernels::RoutingTables tables;
    tables.correction_bias = &m.weights.correction_bias;
    std::vector<unsigned char> scratch(strata::kernels::moe_routing_workspace_bytes(tokens, kExperts));
    strata::kernels::moe_routing(lt, tables, m.config.routing, it, mt, scratch.data(), pool);
    const std::set<int32_t> chosen(ids.begin(), ids.end());
    weight_bytes = 2.0 * (kExperts * kHidden + 2 * kSharedInter * kHidden +
                          static_cast<double>(chosen.size()) * 2 * kExpertInter * kHidden);
    state.counters["experts_used"] = static_cast<double>(chosen.size());
  }
  state.counters["weight_B/s"] =
      benchmark::Counter(weight_bytes, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["tokens/s"] =
      benchmark::Counter(static_cast<double>(tokens), benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_MoeForward)->Arg(1)->Arg(2)->Arg(8)->Arg(64)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
