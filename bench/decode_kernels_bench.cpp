// One Mamba2 decode step of one layer on the CPU: causal conv1d update + selective state update, at
// mamba2-130m and mamba2-2.7b shapes. Decode is bound by state traffic, so the counter reports the
// state bytes read + written per second; states rotate over enough layers to defeat the L3 cache.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "strata/core/tensor.h"
#include "strata/core/thread_pool.h"
#include "strata/kernels/cpu/conv1d.h"
#include "strata/kernels/cpu/state_update.h"

namespace {

using namespace strata;
using namespace strata::kernels::cpu;

struct Shape {
  const char* name;
  int64_t n_heads, head_dim, state_size, n_groups, kernel_width;
};
constexpr Shape kShapes[] = {{"mamba2-130m", 24, 64, 128, 1, 4}, {"mamba2-2.7b", 80, 64, 128, 1, 4}};

// args: shape index, batch (sequences), tokens per sequence (1 = decode, 1+S = verify), threads,
// bf16 state pools (0 = f32).
void BM_MambaDecodeLayer(benchmark::State& bench) {
  const Shape& shape = kShapes[bench.range(0)];
  const int64_t batch = bench.range(1), tokens = bench.range(2);
  ThreadPool pool(static_cast<int>(bench.range(3)));
  const DType state_dtype = bench.range(4) ? DType::bf16 : DType::f32;
  const int64_t elem = static_cast<int64_t>(dtype_size(state_dtype));
  const int64_t H = shape.n_heads, P = shape.head_dim, N = shape.state_size, G = shape.n_groups, K = shape.kernel_width;
  const int64_t d_inner = H * P, conv_dim = d_inner + 2 * G * N, T = batch * tokens;

  const int64_t ssm_bytes = batch * H * P * N * elem, conv_bytes = batch * (K - 1) * conv_dim * elem;
  const int64_t layers = std::max<int64_t>(2, (128 << 20) / (ssm_bytes + conv_bytes) + 1);
  Buffer ssm_state(static_cast<size_t>(layers * ssm_bytes)), conv_state(static_cast<size_t>(layers * conv_bytes));
  Buffer intermediate_ssm(tokens > 1 ? static_cast<size_t>(ssm_bytes * tokens) : 0);
  Buffer intermediate_conv(tokens > 1 ? static_cast<size_t>(conv_bytes * tokens) : 0);

  // in_proj output row: z | xBC | dt, with the conv reading the xBC window.
  const int64_t row = d_inner + conv_dim + H;
  std::vector<float> zxbcdt(static_cast<size_t>(T * row)), conv_out(static_cast<size_t>(T * conv_dim)),
      y(static_cast<size_t>(T * d_inner));
  std::vector<float> weight(static_cast<size_t>(conv_dim * K)), bias(static_cast<size_t>(conv_dim)), A(H), D(H), dt_bias(H);
  std::mt19937 rng(1);
  std::normal_distribution<float> normal(0.0f, 0.5f);
  for (auto* v : {&zxbcdt, &weight, &bias, &D, &dt_bias})
    for (float& f : *v) f = normal(rng);
  for (float& a : A) a = -std::exp(normal(rng));

  auto window = [&](float* base, int64_t col, int64_t cols, int64_t stride) {
    Tensor t = Tensor::contiguous(base + col, DType::f32, {T, cols});
    t.strides[0] = stride;
    return t;
  };
  std::vector<int64_t> cu(static_cast<size_t>(batch + 1));
  std::vector<int32_t> slots(static_cast<size_t>(batch));
  std::vector<uint8_t> has_initial(static_cast<size_t>(batch), 1);
  for (int64_t i = 0; i <= batch; ++i) cu[static_cast<size_t>(i)] = i * tokens;
  for (int64_t i = 0; i < batch; ++i) slots[static_cast<size_t>(i)] = static_cast<int32_t>(i);
  const kernels::VarlenBatch varlen{cu, slots, has_initial};

  const CausalConv1dParams conv_params{conv_dim, K, true};
  const Tensor x_conv = window(zxbcdt.data(), d_inner, conv_dim, row);
  const Tensor weight_view = Tensor::contiguous(weight.data(), DType::f32, {conv_dim, K});
  const Tensor bias_view = Tensor::contiguous(bias.data(), DType::f32, {conv_dim});
  const Tensor conv_out_view = Tensor::contiguous(conv_out.data(), DType::f32, {T, conv_dim});
  const SelectiveStateUpdateParams ssm_params{H, P, N, G, true};
  const SelectiveStateUpdateInputs inputs{window(conv_out.data(), 0, d_inner, conv_dim), window(zxbcdt.data(), d_inner + conv_dim, H, row),
                                          window(conv_out.data(), d_inner, G * N, conv_dim),
                                          window(conv_out.data(), d_inner + G * N, G * N, conv_dim)};
  const SelectiveStateUpdateWeights weights{Tensor::contiguous(A.data(), DType::f32, {H}), Tensor::contiguous(D.data(), DType::f32, {H}),
                                            Tensor::contiguous(dt_bias.data(), DType::f32, {H})};
  const Tensor y_view = Tensor::contiguous(y.data(), DType::f32, {T, d_inner});
  const Tensor inter_conv = tokens > 1 ? intermediate_conv.view(state_dtype, {batch, tokens, K - 1, conv_dim}) : Tensor{};
  const Tensor inter_ssm = tokens > 1 ? intermediate_ssm.view(state_dtype, {batch, tokens, H, P, N}) : Tensor{};

  auto layer_views = [&](int64_t layer) {
    Tensor conv = Tensor::contiguous(static_cast<char*>(conv_state.data()) + layer * conv_bytes, state_dtype, {batch, K - 1, conv_dim});
    Tensor ssm = Tensor::contiguous(static_cast<char*>(ssm_state.data()) + layer * ssm_bytes, state_dtype, {batch, H, P, N});
    return std::pair{conv, ssm};
  };
  {
    auto [conv, ssm] = layer_views(0);
    check_causal_conv1d(conv_params, x_conv, weight_view, bias_view, varlen, conv, inter_conv, conv_out_view, true);
    check_selective_state_update(ssm_params, inputs, weights, varlen, ssm, inter_ssm, y_view);
  }
  int64_t layer = 0;
  for (auto _ : bench) {
    auto [conv, ssm] = layer_views(layer);
    layer = (layer + 1) % layers;
    causal_conv1d_decode(conv_params, x_conv, weight_view, bias_view, varlen, conv, inter_conv, conv_out_view, pool);
    selective_state_update(ssm_params, inputs, weights, varlen, ssm, inter_ssm, y_view, pool);
    benchmark::DoNotOptimize(y.data());
  }
  // State read once and written once; verify also writes one state per token to the intermediates.
  const double bytes = 2.0 * static_cast<double>(ssm_bytes + conv_bytes) +
                       (tokens > 1 ? static_cast<double>(tokens * (ssm_bytes + conv_bytes)) : 0.0);
  bench.counters["state_GB/s"] = benchmark::Counter(bytes * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  bench.SetLabel(std::string(shape.name) + (bench.range(4) ? " bf16 state" : " f32 state"));
}

BENCHMARK(BM_MambaDecodeLayer)
    ->ArgNames({"shape", "batch", "tokens", "threads", "bf16"})
    ->ArgsProduct({{0, 1}, {1, 8}, {1}, {1, 2}, {0}})
    ->Args({0, 1, 4, 2, 0})
    ->Args({1, 1, 4, 2, 0})
    ->Args({1, 1, 1, 1, 1})
    ->Args({1, 8, 1, 2, 1})
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
