// CUDA gemm against the CPU gemm on the same operands: f32, bf16 and f16 weights; both variants (skinny,
// cublas) pinned and the automatic choice through the neutral kernels::gemm; M ∈ {0, 1, 3, 17, 64, 65, 200}
// and every skinny tile size; odd K and N (partial chunks, partial row groups); padded row strides for x,
// weight and y, unaligned views (base pointers off 16 bytes) and aligned ones (the 16-byte load path);
// bias in each dtype with a stride, accumulate, K = 0; the mamba2-2.7b shapes; a CUDA-graph replay.
// Storage around every view holds NaN (x, weight, bias) or a sentinel (y): a kernel reading outside its
// operands gives NaN, one writing outside y changes the sentinel. y starts as NaN unless accumulating.
// Tolerances: f32 x on both sides (skinny, f32 cuBLAS) 1e-5 relative; the cuBLAS bf16/f16 path splits x
// into two 16-bit halves (x ≈ hi + lo to 2^-17 in bf16) up to the context's precise_max_rows, 1e-4,
// and rounds x once beyond it, 5e-3 (bf16 keeps 8 bits: 2^-9 relative per element).
#include "strata/kernels/cuda/gemm.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "cuda_test_support.h"
#include "strata/core/cuda_graph.h"
#include "strata/core/dtype.h"
#include "strata/core/error.h"
#include "strata/kernels/gemm.h"

namespace strata {
namespace {

using kernels::GemmParams;
using kernels::cuda::GemmVariant;
using testing::DeviceTensor;
using testing::HostTensor;

constexpr double kExact = 1e-5;
constexpr double kSplitX = 1e-4;     // x split into two halves
constexpr double kRoundedX = 5e-3;   // x rounded once
constexpr float kSentinel = -777.25f;
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

struct Case {
  int64_t m, k, n;
  DType weight = DType::bf16;
  bool bias = false;
  DType bias_dtype = DType::f32;
  int64_t bias_stride = 1;
  bool accumulate = false;
  int64_t x_pad = 0, w_pad = 0, y_pad = 0;  // extra elements at the end of each row
  int64_t x_col = 0, w_col = 0;             // the view starts this many elements into each row
};

std::string describe(const Case& c, GemmVariant variant) {
  std::string s = std::string(kernels::cuda::gemm_variant_name(variant)) + " M=" + std::to_string(c.m) +
                  " K=" + std::to_string(c.k) + " N=" + std::to_string(c.n) + " weight " +
                  std::string(dtype_name(c.weight));
  if (c.bias)
    s += " bias " + std::string(dtype_name(c.bias_dtype)) + " stride " + std::to_string(c.bias_stride);
  if (c.accumulate) s += " accumulate";
  s += " pads x/w/y " + std::to_string(c.x_pad) + "/" + std::to_string(c.w_pad) + "/" +
       std::to_string(c.y_pad);
  s += " cols x/w " + std::to_string(c.x_col) + "/" + std::to_string(c.w_col);
  return s;
}

// A fast generator for large weights: uniform in [-1, 1).
struct Lcg {
  uint64_t state;
  float next() {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<float>((state >> 40) & 0xffffffu) / 8388608.0f - 1.0f;
  }
};

void store(void* base, DType dtype, int64_t i, float v) {
  if (dtype == DType::f32)
    static_cast<float*>(base)[i] = v;
  else
    static_cast<uint16_t*>(base)[i] = dtype == DType::bf16 ? f32_to_bf16(v) : f32_to_f16(v);
}

// Columns [col, col + cols) of a row-major storage tensor, keeping its row stride.
Tensor window(const Tensor& storage, int64_t col, int64_t cols) {
  Tensor t = storage;
  t.data = static_cast<char*>(storage.data) + col * static_cast<int64_t>(dtype_size(storage.dtype));
  t.shape[1] = cols;
  return t;
}

HostTensor clone(const HostTensor& h) {
  HostTensor c;
  c.buffer = Buffer(std::max<size_t>(h.buffer.size(), 1));
  std::memcpy(c.buffer.data(), h.buffer.data(), h.buffer.size());
  c.tensor = h.tensor;
  c.tensor.data = c.buffer.data();
  return c;
}

// One problem's operands on both sides, each a view into a larger poisoned storage.
struct Problem {
  Case c;
  HostTensor x, w, y, bias;
  DeviceTensor dx, dw, dy, dbias;
  Tensor bias_cpu, bias_gpu;

  Problem(const Case& cs, uint64_t seed) : c(cs) {
    Lcg rng{seed};
    x = testing::host_tensor(DType::f32, {c.m, c.x_col + c.k + c.x_pad});
    w = testing::host_tensor(c.weight, {c.n, c.w_col + c.k + c.w_pad});
    y = testing::host_tensor(DType::f32, {c.m, c.n + c.y_pad});
    bias = testing::host_tensor(c.bias_dtype, {std::max<int64_t>(c.n * c.bias_stride, 1)});
    fill_x(rng);
    const int64_t ldw = c.w_col + c.k + c.w_pad;
    for (int64_t i = 0; i < c.n; ++i)
      for (int64_t j = 0; j < ldw; ++j) {
        const bool inside = j >= c.w_col && j < c.w_col + c.k;
        store(w.tensor.data, c.weight, i * ldw + j, inside ? rng.next() : kNaN);
      }
    reset_y(rng);
    for (int64_t i = 0; i < bias.tensor.numel(); ++i)
      store(bias.tensor.data, c.bias_dtype, i, i % c.bias_stride == 0 ? rng.next() : kNaN);
    dx = testing::to_device(x.tensor);
    dw = testing::to_device(w.tensor);
    dy = testing::to_device(y.tensor);
    dbias = testing::to_device(bias.tensor);
    bias_cpu = bias_view(bias.tensor);
    bias_gpu = bias_view(dbias.tensor);
  }

  // New x values (the graph test changes x between replays); the device copy follows.
  void fill_x(Lcg& rng) {
    const int64_t ldx = c.x_col + c.k + c.x_pad;
    float* p = x.tensor.ptr<float>();
    for (int64_t i = 0; i < c.m; ++i)
      for (int64_t j = 0; j < ldx; ++j)
        p[i * ldx + j] = j >= c.x_col && j < c.x_col + c.k ? rng.next() : kNaN;
  }
  void reset_y(Lcg& rng) {
    const int64_t ldy = c.n + c.y_pad;
    float* p = y.tensor.ptr<float>();
    for (int64_t i = 0; i < c.m; ++i)
      for (int64_t j = 0; j < ldy; ++j)
        p[i * ldy + j] = j >= c.n ? kSentinel : c.accumulate ? rng.next() : kNaN;
  }
  void upload_x_and_y() {
    cuda::copy(dx.tensor.data, x.tensor.data, testing::extent_bytes(x.tensor));
    cuda::copy(dy.tensor.data, y.tensor.data, testing::extent_bytes(y.tensor));
  }

  Tensor bias_view(const Tensor& storage) const {
    Tensor t = storage;
    t.shape[0] = c.n;
    t.strides[0] = c.bias_stride;
    return t;
  }
  Tensor x_view(const Tensor& storage) const { return window(storage, c.x_col, c.k); }
  Tensor w_view(const Tensor& storage) const { return window(storage, c.w_col, c.k); }
  Tensor y_view(const Tensor& storage) const { return window(storage, 0, c.n); }
  GemmParams params(bool gpu) const {
    GemmParams p;
    p.bias = c.bias ? (gpu ? &bias_gpu : &bias_cpu) : nullptr;
    p.accumulate = c.accumulate;
    return p;
  }

  // The CPU twin on a copy of the host y.
  HostTensor run_cpu() const {
    HostTensor out = clone(y);
    Tensor yv = y_view(out.tensor);
    const GemmParams p = params(false);
    kernels::check_gemm(x_view(x.tensor), w_view(w.tensor), yv, p);
    kernels::gemm(x_view(x.tensor), w_view(w.tensor), yv, p, Exec(testing::host_pool()));
    return out;
  }

  // The CUDA gemm on the device y (reset from the host y first); `automatic` goes through kernels::gemm.
  void launch_gpu(GemmVariant variant) {
    Tensor yv = y_view(dy.tensor);
    const GemmParams p = params(true);
    if (variant == GemmVariant::automatic)
      kernels::gemm(x_view(dx.tensor), w_view(dw.tensor), yv, p, testing::gpu_exec());
    else
      kernels::cuda::gemm_with(variant, x_view(dx.tensor), w_view(dw.tensor), yv, p, testing::gpu_exec());
  }
  HostTensor run_gpu(GemmVariant variant) {
    cuda::copy(dy.tensor.data, y.tensor.data, testing::extent_bytes(y.tensor));
    kernels::check_gemm(x_view(dx.tensor), w_view(dw.tensor), y_view(dy.tensor), params(true));
    launch_gpu(variant);
    return device_y();
  }
  HostTensor device_y() const {
    HostTensor out = clone(y);
    testing::to_host(dy.tensor, out.tensor);
    return out;
  }
};

double tolerance(const Case& c, GemmVariant variant) {
  const GemmVariant resolved =
      variant == GemmVariant::automatic ? kernels::cuda::gemm_variant_for(c.m, c.weight) : variant;
  if (resolved != GemmVariant::cublas || c.weight == DType::f32) return kExact;
  return c.m <= testing::gpu()->precise_max_rows() ? kSplitX : kRoundedX;
}

// The [M, N] results within `tol`, and the row padding of y still the sentinel on the GPU side.
void expect_close(const Problem& p, const HostTensor& cpu, const HostTensor& gpu, double tol,
                  const std::string& what) {
  const int64_t ldy = p.c.n + p.c.y_pad;
  std::vector<float> a, b;
  int64_t pad_changed = 0;
  for (int64_t i = 0; i < p.c.m; ++i)
    for (int64_t j = 0; j < ldy; ++j) {
      const float g = gpu.tensor.ptr<float>()[i * ldy + j], r = cpu.tensor.ptr<float>()[i * ldy + j];
      if (j < p.c.n) {
        a.push_back(g);
        b.push_back(r);
      } else if (!(g == kSentinel)) {
        ++pad_changed;
      }
    }
  EXPECT_LE(testing::relative_max_error(a.data(), b.data(), a.size()), tol) << what;
  EXPECT_EQ(pad_changed, 0) << what << ": the GPU wrote outside y's columns";
}

void expect_matches_cpu(const Case& c, GemmVariant variant, uint64_t seed = 1) {
  Problem p(c, seed);
  const HostTensor cpu = p.run_cpu();
  const HostTensor gpu = p.run_gpu(variant);
  expect_close(p, cpu, gpu, tolerance(c, variant), describe(c, variant));
}

constexpr GemmVariant kVariants[] = {GemmVariant::skinny, GemmVariant::cublas, GemmVariant::automatic};
constexpr DType kWeightDtypes[] = {DType::f32, DType::bf16, DType::f16};

TEST(CudaGemm, MatchesTheCpuOverTokenCountsDtypesAndVariants) {
  STRATA_REQUIRE_GPU();
  for (DType dtype : kWeightDtypes)
    for (GemmVariant variant : kVariants)
      for (int64_t m : {0, 1, 3, 17, 64, 65, 200}) {
        Case c{m, 67, 131};
        c.weight = dtype;
        expect_matches_cpu(c, variant);
      }
}

// K, N multiples of 8 and 16-byte aligned rows: every chunk takes the 16-byte load path; every tile size.
TEST(CudaGemm, AlignedOperandsOverEverySkinnyTile) {
  STRATA_REQUIRE_GPU();
  for (DType dtype : kWeightDtypes)
    for (int64_t m : {1, 2, 3, 4, 5, 7, 8, 9, 16, 33, 64})
      for (GemmVariant variant : {GemmVariant::skinny, GemmVariant::cublas}) {
        Case c{m, 256, 96};
        c.weight = dtype;
        expect_matches_cpu(c, variant);
      }
}

// Padded rows: x and weight rows 16-byte aligned with K = 67 (eight full chunks, then a tail of 3), y with
// a gap after N; bias in each dtype read with a stride; accumulate on and off.
TEST(CudaGemm, StridedRowsBiasAndAccumulate) {
  STRATA_REQUIRE_GPU();
  for (DType dtype : kWeightDtypes)
    for (GemmVariant variant : kVariants)
      for (DType bias_dtype : {DType::f32, DType::bf16, DType::f16})
        for (bool accumulate : {false, true})
          for (int64_t m : {1, 5, 17, 65}) {
            Case c{m, 67, 131};
            c.weight = dtype;
            c.bias = true;
            c.bias_dtype = bias_dtype;
            c.bias_stride = 2;
            c.accumulate = accumulate;
            c.x_pad = 1;  // 68 floats: 16-byte rows
            c.w_pad = 5;  // 72 elements: 16-byte rows in every dtype
            c.y_pad = 3;
            expect_matches_cpu(c, variant);
          }
}

TEST(CudaGemm, AccumulateWithoutBias) {
  STRATA_REQUIRE_GPU();
  for (DType dtype : kWeightDtypes)
    for (GemmVariant variant : kVariants)
      for (int64_t m : {1, 64, 65}) {
        Case c{m, 200, 77};
        c.weight = dtype;
        c.accumulate = true;
        c.y_pad = 1;
        expect_matches_cpu(c, variant);
      }
}

// Views starting one element into their rows: base pointers off 16 bytes, so the skinny kernel loads
// one element at a time, and cuBLAS is told the real alignment.
TEST(CudaGemm, UnalignedViews) {
  STRATA_REQUIRE_GPU();
  for (DType dtype : kWeightDtypes)
    for (GemmVariant variant : kVariants)
      for (int64_t m : {1, 4, 9, 100}) {
        Case c{m, 200, 64};
        c.weight = dtype;
        c.x_col = 1;
        c.w_col = 1;
        c.x_pad = 3;
        c.w_pad = 7;
        c.bias = true;
        expect_matches_cpu(c, variant);
      }
}

// N = 1 and 2 (a row group mostly past the end), K = 1..9 around one chunk.
TEST(CudaGemm, TinyShapes) {
  STRATA_REQUIRE_GPU();
  for (DType dtype : kWeightDtypes)
    for (GemmVariant variant : {GemmVariant::skinny, GemmVariant::cublas})
      for (int64_t k : {1, 7, 8, 9})
        for (int64_t n : {1, 2, 5})
          for (int64_t m : {1, 2, 11}) {
            Case c{m, k, n};
            c.weight = dtype;
            c.bias = n != 2;
            expect_matches_cpu(c, variant);
          }
}

// K = 0: y becomes (y or 0) + bias; M = 0 and N = 0 do nothing.
TEST(CudaGemm, EmptyProducts) {
  STRATA_REQUIRE_GPU();
  for (GemmVariant variant : kVariants)
    for (bool accumulate : {false, true})
      for (bool bias : {false, true}) {
        Case c{5, 0, 33};
        c.bias = bias;
        c.accumulate = accumulate;
        c.y_pad = 2;
        expect_matches_cpu(c, variant);
      }
  for (GemmVariant variant : kVariants) {
    expect_matches_cpu(Case{0, 16, 8}, variant);
    expect_matches_cpu(Case{4, 16, 0}, variant);
  }
}

// The projections of mamba2-2.7b and its lm_head (vocab 50288), decode and batched-decode token counts.
TEST(CudaGemm, Mamba2Shapes) {
  STRATA_REQUIRE_GPU();
  struct Shape {
    int64_t k, n;
    std::vector<int64_t> ms;
  };
  const Shape shapes[] = {{2560, 10576, {1, 4, 16, 64}}, {5120, 2560, {1, 8, 64}}, {2560, 50288, {1, 2}}};
  for (const Shape& s : shapes)
    for (int64_t m : s.ms)
      for (DType dtype : {DType::bf16, DType::f32}) {
        if (dtype == DType::f32 && s.n > 20000) continue;  // 0.5 GB of f32 weights: bf16 covers the shape
        for (GemmVariant variant : {GemmVariant::skinny, GemmVariant::cublas}) {
          Case c{m, s.k, s.n};
          c.weight = dtype;
          expect_matches_cpu(c, variant, 7);
        }
      }
}

// Captured once after an eager run (which sizes the GEMM scratch), replayed on new x: the cuBLASLt path
// (cast into the scratch, fixed workspace), cublasSgemm and the skinny kernel.
TEST(CudaGemm, ReplaysFromACudaGraph) {
  STRATA_REQUIRE_GPU();
  Case half{100, 300, 200};
  half.bias = true;
  Case exact{5, 300, 200};
  exact.weight = DType::f32;
  exact.bias = true;
  exact.bias_dtype = DType::bf16;
  Case skinny{3, 300, 200};
  skinny.accumulate = true;
  std::vector<Problem> problems;
  problems.reserve(3);
  problems.emplace_back(half, 11);
  problems.emplace_back(exact, 12);
  problems.emplace_back(skinny, 13);
  const GemmVariant variants[] = {GemmVariant::cublas, GemmVariant::cublas, GemmVariant::skinny};
  auto step = [&] {
    for (size_t i = 0; i < problems.size(); ++i) problems[i].launch_gpu(variants[i]);
  };
  for (Problem& p : problems) p.upload_x_and_y();
  step();
  testing::gpu()->synchronize();

  CudaGraph graph;
  graph.capture(*testing::gpu(), step);
  Lcg rng{99};
  for (Problem& p : problems) {
    p.fill_x(rng);
    p.reset_y(rng);
    p.upload_x_and_y();
  }
  graph.replay(*testing::gpu());
  for (size_t i = 0; i < problems.size(); ++i) {
    const HostTensor cpu = problems[i].run_cpu();
    const HostTensor replayed = problems[i].device_y();
    expect_close(problems[i], cpu, replayed, tolerance(problems[i].c, variants[i]),
                 "graph replay: " + describe(problems[i].c, variants[i]));
  }
}

// Both roundings of x on the same shapes: the split limit moved below and above M. Rounding once must
// still be close, and splitting must be markedly closer than rounding once (so the split is real).
TEST(CudaGemm, SplitsSmallProductsAndRoundsLargeOnesOnce) {
  STRATA_REQUIRE_GPU();
  CudaContext& context = *testing::gpu();
  const int64_t saved = context.precise_max_rows();
  for (DType dtype : {DType::bf16, DType::f16})
    for (int64_t m : {3, 64, 200}) {
      Case c{m, 512, 96};
      c.weight = dtype;
      c.bias = true;
      double errors[2];
      for (int split = 0; split < 2; ++split) {
        context.set_precise_max_rows(split ? m : m - 1);
        Problem p(c, 21);
        const HostTensor cpu = p.run_cpu();
        const HostTensor gpu = p.run_gpu(GemmVariant::cublas);
        expect_close(p, cpu, gpu, split ? kSplitX : kRoundedX, describe(c, GemmVariant::cublas));
        std::vector<float> a, b;
        for (int64_t i = 0; i < m * c.n; ++i) {
          a.push_back(gpu.tensor.ptr<float>()[i]);
          b.push_back(cpu.tensor.ptr<float>()[i]);
        }
        errors[split] = testing::relative_max_error(a.data(), b.data(), a.size());
      }
      std::printf("[gemm cuda] %s M=%lld: x rounded once %.2e, split %.2e\n", std::string(dtype_name(dtype)).c_str(),
                  static_cast<long long>(m), errors[0], errors[1]);
      EXPECT_LT(errors[1] * 8, errors[0]) << dtype_name(dtype) << " M=" << m;
    }
  context.set_precise_max_rows(saved);
}

TEST(CudaGemm, AutomaticTakesSkinnyForFewTokens) {
  STRATA_REQUIRE_GPU();
  using kernels::cuda::gemm_variant_for;
  using kernels::cuda::kSkinnyMaxM;
  EXPECT_EQ(gemm_variant_for(1, DType::bf16), GemmVariant::skinny);
  EXPECT_EQ(gemm_variant_for(kSkinnyMaxM, DType::f16), GemmVariant::skinny);
  EXPECT_EQ(gemm_variant_for(kSkinnyMaxM + 1, DType::bf16), GemmVariant::cublas);
  EXPECT_EQ(gemm_variant_for(kernels::cuda::kSkinnyMaxMExact, DType::f32), GemmVariant::skinny);
  EXPECT_EQ(gemm_variant_for(kernels::cuda::kSkinnyMaxMExact + 1, DType::f32), GemmVariant::cublas);
}

// check_gemm reads only shapes and strides: CUDA operands pass; mixed devices fail naming them.
TEST(CudaGemm, CheckAcceptsDeviceOperandsAndRefusesMixedOnes) {
  STRATA_REQUIRE_GPU();
  Problem p(Case{3, 16, 8}, 1);
  const Tensor x = p.x_view(p.dx.tensor), w = p.w_view(p.dw.tensor), y = p.y_view(p.dy.tensor);
  EXPECT_NO_THROW(kernels::check_gemm(x, w, y, {}));
  auto message = [](const auto& call) {
    try {
      call();
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  const std::string mixed = message([&] { kernels::check_gemm(x, p.w_view(p.w.tensor), y, {}); });
  EXPECT_NE(mixed.find("one device"), std::string::npos) << mixed;
  GemmParams host_bias;
  host_bias.bias = &p.bias_cpu;
  const std::string bias = message([&] { kernels::check_gemm(x, w, y, host_bias); });
  EXPECT_NE(bias.find("bias"), std::string::npos) << bias;
  Tensor yv = y;
  const std::string exec = message([&] { kernels::gemm(x, w, yv, {}, Exec(testing::host_pool())); });
  EXPECT_NE(exec.find("gemm"), std::string::npos) << exec;
}

}  // namespace
}  // namespace strata
