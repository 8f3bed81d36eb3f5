// Test oracle for feed-forward layers: weights held in their stored dtype (f32/bf16/f16) together with
// the exact values they represent, and a double-precision, one-token-at-a-time MLP built from them.
// Shared by the MLP and MoE layer tests.
#pragma once

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "strata/core/dtype.h"
#include "strata/core/tensor.h"
#include "strata/model/mlp_layer.h"

namespace strata::model::oracle {

// A weight in its stored dtype plus the exact values it holds, for the double-precision oracle.
struct Stored {
  int64_t rows = 0, cols = 0;
  DType dtype = DType::f32;
  std::vector<float> f32;
  std::vector<uint16_t> half;
  std::vector<double> exact;

  Stored() = default;
  Stored(int64_t r, int64_t c, DType d, std::mt19937& rng, float scale) : rows(r), cols(c), dtype(d) {
    std::uniform_real_distribution<float> dist(-scale, scale);
    const size_t n = static_cast<size_t>(c == 0 ? r : r * c);  // cols 0: a vector
    exact.resize(n);
    if (d == DType::f32)
      f32.resize(n);
    else
      half.resize(n);
    for (size_t i = 0; i < n; ++i) {
      const float v = dist(rng);
      if (d == DType::f32)
        exact[i] = f32[i] = v;
      else if (d == DType::bf16)
        exact[i] = bf16_to_f32(half[i] = f32_to_bf16(v));
      else
        exact[i] = f16_to_f32(half[i] = f32_to_f16(v));
    }
  }
  Tensor tensor() {
    void* data = dtype == DType::f32 ? static_cast<void*>(f32.data()) : static_cast<void*>(half.data());
    return cols == 0 ? Tensor::contiguous(data, dtype, {rows})
                     : Tensor::contiguous(data, dtype, {rows, cols});
  }
  // Every element NaN: a weight that must never be read into a result.
  void poison() {
    for (auto& v : f32) v = NAN;
    for (auto& v : half) v = dtype == DType::bf16 ? uint16_t{0x7fc0} : uint16_t{0x7e00};
    for (auto& v : exact) v = NAN;
  }
  double at(int64_t r, int64_t c) const { return exact[static_cast<size_t>(r * cols + c)]; }
  double at(int64_t i) const { return exact[static_cast<size_t>(i)]; }
};

struct Mlp {
  Stored up, down, gate, up_bias, down_bias, gate_bias;
  MlpActivation activation;
  MlpWeights weights;

  Mlp(int64_t hidden, int64_t inter, MlpActivation act, DType dtype, bool biases, uint32_t seed)
      : activation(act) {
    std::mt19937 rng(seed);
    const float s_in = 1.0f / std::sqrt(static_cast<float>(hidden));
    const float s_out = 1.0f / std::sqrt(static_cast<float>(inter));
    up = Stored(inter, hidden, dtype, rng, 2.0f * s_in);
    down = Stored(hidden, inter, dtype, rng, 2.0f * s_out);
    weights.up = up.tensor();
    weights.down = down.tensor();
    if (act == MlpActivation::silu_gated) {
      gate = Stored(inter, hidden, dtype, rng, 2.0f * s_in);
      weights.gate = gate.tensor();
    }
    if (biases) {
      up_bias = Stored(inter, 0, DType::f32, rng, 0.5f);
      down_bias = Stored(hidden, 0, DType::bf16, rng, 0.5f);
      weights.up_bias = up_bias.tensor();
      weights.down_bias = down_bias.tensor();
      if (act == MlpActivation::silu_gated) {
        gate_bias = Stored(inter, 0, DType::f32, rng, 0.5f);
        weights.gate_bias = gate_bias.tensor();
      }
    }
  }

  void poison() {
    for (Stored* s : {&up, &down, &gate, &up_bias, &down_bias, &gate_bias}) s->poison();
  }

  // Naive loops in double: the definition, one token at a time.
  std::vector<double> reference(const float* x) const {
    const int64_t hidden = up.cols, inter = up.rows;
    std::vector<double> h(static_cast<size_t>(inter)), y(static_cast<size_t>(hidden));
    for (int64_t i = 0; i < inter; ++i) {
      double u = up_bias.exact.empty() ? 0.0 : up_bias.at(i);
      for (int64_t c = 0; c < hidden; ++c) u += up.at(i, c) * x[c];
      if (activation == MlpActivation::relu2) {
        h[i] = u > 0 ? u * u : 0.0;
      } else if (activation == MlpActivation::gelu) {
        h[i] = 0.5 * u * (1.0 + std::erf(u / std::sqrt(2.0)));
      } else {
        double g = gate_bias.exact.empty() ? 0.0 : gate_bias.at(i);
        for (int64_t c = 0; c < hidden; ++c) g += gate.at(i, c) * x[c];
        h[i] = g / (1.0 + std::exp(-g)) * u;
      }
    }
    for (int64_t o = 0; o < hidden; ++o) {
      double v = down_bias.exact.empty() ? 0.0 : down_bias.at(o);
      for (int64_t i = 0; i < inter; ++i) v += down.at(o, i) * h[i];
      y[o] = v;
    }
    return y;
  }
};

}  // namespace strata::model::oracle
