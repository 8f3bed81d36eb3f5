#include "strata/kernels/cpu/gemm.h"

#include <algorithm>

#include "strata/core/error.h"
#include "strata/kernels/cpu/gemm_kernels.h"

namespace strata::kernels::cpu {

namespace {

bool is_float_dtype(DType t) { return t == DType::f32 || t == DType::bf16 || t == DType::f16; }

// Up to this many rows the dot-product kernel, which reads each weight element once and packs nothing,
// beats the panel kernel, whose packing and y passes only pay off over many rows. Measured with
// `gemm_bench --benchmark_filter=crossover`: rows wins to M≈32-48 on mamba2 in_proj shapes.
constexpr int64_t kRowsKernelMaxM = 32;

// `rows` hands over to its row_lanes form (x rows in the lanes of 16-wide vectors, weights broadcast)
// when the vectors are full or one lane short: it pads rows to 16 or 32 with zeros, so at M = 14 or 28
// it was already no faster than the dot products (gemm_bench --benchmark_filter=crossover: at M = 16
// and 32 it is 5-15% faster on mamba2 in_proj shapes; at M = 4..12 and 20..28 it loses).
bool prefers_row_lanes(int64_t m) { return m == 15 || m == 16 || m == 31 || m == 32; }

// Problems smaller than this many multiply-adds run on the calling thread: waking the pool costs more.
constexpr int64_t kInlineWork = 1 << 16;

detail::GemmProblem make_problem(const Tensor& x, const Tensor& weight, Tensor& y, const GemmParams& params) {
  detail::GemmProblem p;
  p.x = x.ptr<const float>();
  p.ldx = x.stride(0);
  p.weight = weight.data;
  p.weight_dtype = weight.dtype;
  p.ldw = weight.stride(0);
  p.y = y.ptr<float>();
  p.ldy = y.stride(0);
  p.m = x.size(0);
  p.k = x.size(1);
  p.n = weight.size(0);
  if (params.bias != nullptr) {
    p.bias = params.bias->data;
    p.bias_dtype = params.bias->dtype;
    p.bias_stride = params.bias->stride(0);
  }
  p.accumulate = params.accumulate;
  return p;
}

// K == 0: the product is empty, so y becomes (y or 0) + bias.
void empty_product(const detail::GemmProblem& p) {
  for (int64_t i = 0; i < p.m; ++i) {
    float* row = p.y + i * p.ldy;
    for (int64_t j = 0; j < p.n; ++j) row[j] = (p.accumulate ? row[j] : 0.0f) + p.bias_at(j);
  }
}

}  // namespace

// Device-neutral: it reads shapes, strides and pointers only, so the CUDA twin shares it.
void check_gemm(const Tensor& x, const Tensor& weight, const Tensor& y, const GemmParams& params) {
  if (weight.device != x.device || y.device != x.device)
    fail("gemm: x, weight and y must be on one device, got x on {}, weight on {}, y on {}", device_name(x.device),
         device_name(weight.device), device_name(y.device));
  if (x.ndim != 2 || x.dtype != DType::f32)
    fail("gemm: x must be f32 [tokens, in_features], got {}", x.describe());
  if (weight.ndim != 2 || !is_float_dtype(weight.dtype))
    fail("gemm: weight must be [out_features, in_features] in f32, bf16 or f16, got {}", weight.describe());
  if (y.ndim != 2 || y.dtype != DType::f32)
    fail("gemm: y must be f32 [tokens, out_features], got {}", y.describe());
  const int64_t m = x.size(0), k = x.size(1), n = weight.size(0);
  if (weight.size(1) != k)
    fail("gemm: weight {} has in_features {} but x {} has {}", weight.describe(), weight.size(1),
         x.describe(), k);
  if (y.size(0) != m || y.size(1) != n)
    fail("gemm: y must be [{}, {}] for x {} and weight {}, got {}", m, n, x.describe(), weight.describe(),
         y.describe());
  auto check_rows = [](const Tensor& t, const char* name) {
    if (t.size(1) > 1 && t.stride(1) != 1)
      fail("gemm: {} {} must have contiguous rows (column stride 1), got stride {}", name, t.describe(),
           t.stride(1));
    if (t.size(0) > 1 && t.stride(0) < t.size(1))
      fail("gemm: {} {} has row stride {} smaller than its row length {}", name, t.describe(), t.stride(0),
           t.size(1));
  };
  check_rows(x, "x");
  check_rows(weight, "weight");
  check_rows(y, "y");
  if (m > 0 && n > 0 && x.data == nullptr) fail("gemm: x has no data");
  if (m > 0 && n > 0 && y.data == nullptr) fail("gemm: y has no data");
  if (n > 0 && k > 0 && weight.data == nullptr) fail("gemm: weight has no data");
  if (params.bias != nullptr) {
    const Tensor& b = *params.bias;
    if (b.device != x.device || b.ndim != 1 || b.size(0) != n || !is_float_dtype(b.dtype))
      fail("gemm: bias must be a [{}] f32/bf16/f16 tensor on {} like x, got {} on {}", n, device_name(x.device),
           b.describe(), device_name(b.device));
    if (n > 0 && b.data == nullptr) fail("gemm: bias has no data");
  }
}

GemmKernel gemm_kernel_for(int64_t m, DType /*weight_dtype*/) {
  if (!detail::avx512_available()) return GemmKernel::portable;
  return m <= kRowsKernelMaxM ? GemmKernel::rows : GemmKernel::panels;
}

const char* gemm_kernel_name(GemmKernel kernel) {
  switch (kernel) {
    case GemmKernel::automatic: return "automatic";
    case GemmKernel::rows: return "rows";
    case GemmKernel::panels: return "panels";
    case GemmKernel::portable: return "portable";
    case GemmKernel::openblas: return "openblas";
  }
  return "?";
}

void gemm(const Tensor& x, const Tensor& weight, Tensor& y, const GemmParams& params, ThreadPool& pool) {
  const detail::GemmProblem p = make_problem(x, weight, y, params);
  if (p.m == 0 || p.n == 0) return;
  if (p.k == 0) {
    empty_product(p);
    return;
  }
  GemmKernel kernel = params.kernel == GemmKernel::automatic ? gemm_kernel_for(p.m, p.weight_dtype)
                                                              : params.kernel;
  if ((kernel == GemmKernel::rows || kernel == GemmKernel::panels) && !detail::avx512_available())
    kernel = GemmKernel::portable;

  void (*run)(const detail::GemmProblem&, int64_t, int64_t) = detail::gemm_portable;
  int64_t cols_per_unit = detail::kRowsTileCols;
  switch (kernel) {
    case GemmKernel::rows:
      if (prefers_row_lanes(p.m)) {
        run = detail::gemm_row_lanes_avx512;
        cols_per_unit = detail::kRowLanesTileCols;
      } else {
        run = detail::gemm_rows_avx512;
      }
      break;
    case GemmKernel::panels:
      run = detail::gemm_panels_avx512;
      cols_per_unit = detail::kPanelCols;
      break;
    case GemmKernel::openblas:
      run = detail::gemm_openblas;
      cols_per_unit = 64;
      break;
    default: break;
  }
  if (p.m * p.n * p.k <= kInlineWork || pool.size() == 1) {
    run(p, 0, p.n);
    return;
  }
  // Each thread takes a contiguous run of output columns: its own slice of the weight, streamed once.
  const int64_t units = (p.n + cols_per_unit - 1) / cols_per_unit;
  pool.parallel_for(units, [&](int64_t begin, int64_t end) {
    run(p, begin * cols_per_unit, std::min(end * cols_per_unit, p.n));
  });
}

}  // namespace strata::kernels::cpu
