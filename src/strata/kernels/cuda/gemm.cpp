// kernels::cuda::gemm: flattens the operands, picks the variant (cuda/gemm.h) and runs it on the
// context's stream. The cuBLAS paths use the column-major reading of our row-major operands: y[M,N]
// row-major is yᵀ [N,M] column-major, so y = x·Wᵀ is yᵀ = W·xᵀ with W read as a column-major [K,N]
// matrix, transposed (op T), and x as column-major [K,M] (op N): m = N, n = M, k = K in cuBLAS's terms,
// the leading dimensions our row strides. bias and the old y enter through a pass over y before cuBLAS
// (launch_bias_rows), which then adds its product with beta = 1; with neither, beta = 0 and y is not read.
#if STRATA_HAVE_CUDA

#include "strata/kernels/cuda/gemm.h"

#include <cublasLt.h>
#include <cublas_v2.h>

#include "strata/core/cublas_api.h"

#include <algorithm>
#include <atomic>
#include <climits>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "strata/core/cuda_context.h"
#include "strata/core/error.h"
#include "strata/kernels/cuda/gemm_launch.h"

namespace strata::kernels::cuda {
namespace {

void check(cublasStatus_t status, const char* what) {
  if (status != CUBLAS_STATUS_SUCCESS)
    fail("gemm (cuda): {} failed: {}", what, strata::cuda::cublas_api().cublasGetStatusString(status));
}

int as_int(int64_t value, const char* what) {
  if (value > INT_MAX) fail("gemm (cuda): {} = {} does not fit cuBLAS's 32-bit sizes", what, value);
  return static_cast<int>(value);
}

// The row stride as a leading dimension. check_gemm leaves a lone row's stride free (it is never used),
// but cuBLAS wants ld >= the row length.
int64_t leading(const Tensor& t) { return t.size(0) > 1 ? t.stride(0) : std::max<int64_t>(t.size(1), 1); }

GemmOperands operands_of(const Tensor& x, const Tensor& weight, const Tensor& y, const GemmParams& params) {
  GemmOperands g;
  g.x = x.ptr<const float>();
  g.ldx = leading(x);
  g.weight = weight.data;
  g.weight_dtype = weight.dtype;
  g.ldw = leading(weight);
  g.y = y.ptr<float>();
  g.ldy = leading(y);
  if (params.bias != nullptr) {
    g.bias = params.bias->data;
    g.bias_dtype = params.bias->dtype;
    g.bias_stride = params.bias->stride(0);
  }
  g.m = x.size(0);
  g.n = weight.size(0);
  g.k = x.size(1);
  g.accumulate = params.accumulate;
  return g;
}

// y = (accumulate ? y : 0) + bias ahead of cuBLAS when there is a bias; the beta cuBLAS then uses.
float prepare_y(const GemmOperands& g, void* stream) {
  if (g.bias == nullptr) return g.accumulate ? 1.0f : 0.0f;
  launch_bias_rows(g.y, g.ldy, g.m, g.n, g.bias, g.bias_dtype, g.bias_stride, g.accumulate, stream);
  return 1.0f;
}

void cublas_f32(const GemmOperands& g, CudaContext& context) {
  const float alpha = 1.0f, beta = prepare_y(g, context.stream());
  check(strata::cuda::cublas_api().cublasSgemm(static_cast<cublasHandle_t>(context.cublas()), CUBLAS_OP_T, CUBLAS_OP_N, as_int(g.n, "N"),
                    as_int(g.m, "M"), as_int(g.k, "K"), &alpha, static_cast<const float*>(g.weight),
                    as_int(g.ldw, "weight row stride"), g.x, as_int(g.ldx, "x row stride"), &beta, g.y,
                    as_int(g.ldy, "y row stride")),
        "cublasSgemm");
}

// The alignment every row of a matrix has: the largest power of two up to 256 dividing both its address
// and its row pitch. cuBLASLt's heuristic assumes 256 unless told, and could pick a kernel that faults.
uint32_t alignment(const void* pointer, int64_t pitch_bytes) {
  const uint64_t bits = reinterpret_cast<uintptr_t>(pointer) | static_cast<uint64_t>(pitch_bytes) | 256u;
  return static_cast<uint32_t>(bits & (~bits + 1));  // the lowest set bit
}

// cuBLASLt's descriptors for one call, destroyed on every way out.
struct LtCall {
  cublasLtMatmulDesc_t op = nullptr;
  cublasLtMatrixLayout_t a = nullptr, b = nullptr, c = nullptr;
  cublasLtMatmulPreference_t preference = nullptr;
  LtCall() = default;
  LtCall(const LtCall&) = delete;
  LtCall& operator=(const LtCall&) = delete;
  ~LtCall() {
    if (preference) strata::cuda::cublas_api().cublasLtMatmulPreferenceDestroy(preference);
    if (c) strata::cuda::cublas_api().cublasLtMatrixLayoutDestroy(c);
    if (b) strata::cuda::cublas_api().cublasLtMatrixLayoutDestroy(b);
    if (a) strata::cuda::cublas_api().cublasLtMatrixLayoutDestroy(a);
    if (op) strata::cuda::cublas_api().cublasLtMatmulDescDestroy(op);
  }
};

template <typename T>
void set(cublasLtMatmulDesc_t desc, cublasLtMatmulDescAttributes_t attribute, T value) {
  check(strata::cuda::cublas_api().cublasLtMatmulDescSetAttribute(desc, attribute, &value, sizeof(value)),
        "cublasLtMatmulDescSetAttribute");
}
template <typename T>
void set(cublasLtMatmulPreference_t preference, cublasLtMatmulPreferenceAttributes_t attribute, T value) {
  check(strata::cuda::cublas_api().cublasLtMatmulPreferenceSetAttribute(preference, attribute, &value, sizeof(value)),
        "cublasLtMatmulPreferenceSetAttribute");
}

// out[rows, n] = beta·out + xh[rows, k]·Wᵀ with xh and W in one 16-bit type (cuBLASLt, f32 compute and
// output; cublasGemmEx where Lt offers no algorithm for these alignments).
void half_product(const GemmOperands& g, const void* xh, int64_t ldxh, int64_t rows, float* out, int64_t ldo,
                  float beta, CudaContext& context) {
  const float alpha = 1.0f;
  const int m = as_int(rows, "M"), n = as_int(g.n, "N"), k = as_int(g.k, "K");
  const cudaDataType_t type = g.weight_dtype == DType::bf16 ? CUDA_R_16BF : CUDA_R_16F;

  LtCall call;
  check(strata::cuda::cublas_api().cublasLtMatmulDescCreate(&call.op, CUBLAS_COMPUTE_32F, CUDA_R_32F), "cublasLtMatmulDescCreate");
  set<int32_t>(call.op, CUBLASLT_MATMUL_DESC_TRANSA, CUBLAS_OP_T);
  set<int32_t>(call.op, CUBLASLT_MATMUL_DESC_TRANSB, CUBLAS_OP_N);
  // Column-major view: A = W as [k, n] (ld ldw), B = xh as [k, rows] (ld ldxh), C = out as [n, rows].
  check(strata::cuda::cublas_api().cublasLtMatrixLayoutCreate(&call.a, type, g.k, g.n, g.ldw), "cublasLtMatrixLayoutCreate");
  check(strata::cuda::cublas_api().cublasLtMatrixLayoutCreate(&call.b, type, g.k, rows, ldxh), "cublasLtMatrixLayoutCreate");
  check(strata::cuda::cublas_api().cublasLtMatrixLayoutCreate(&call.c, CUDA_R_32F, g.n, rows, ldo), "cublasLtMatrixLayoutCreate");
  check(strata::cuda::cublas_api().cublasLtMatmulPreferenceCreate(&call.preference), "cublasLtMatmulPreferenceCreate");
  set<uint64_t>(call.preference, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                context.cublas_lt_workspace_bytes());
  set<uint32_t>(call.preference, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, alignment(g.weight, g.ldw * 2));
  set<uint32_t>(call.preference, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, alignment(xh, ldxh * 2));
  set<uint32_t>(call.preference, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, alignment(out, ldo * 4));
  set<uint32_t>(call.preference, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, alignment(out, ldo * 4));

  const auto lt = static_cast<cublasLtHandle_t>(context.cublas_lt());
  const auto stream = static_cast<cudaStream_t>(context.stream());
  cublasLtMatmulHeuristicResult_t best{};
  int found = 0;
  const cublasStatus_t status = strata::cuda::cublas_api().cublasLtMatmulAlgoGetHeuristic(lt, call.op, call.a, call.b, call.c, call.c,
                                                               call.preference, 1, &best, &found);
  if (status == CUBLAS_STATUS_SUCCESS && found > 0 && best.state == CUBLAS_STATUS_SUCCESS) {
    check(strata::cuda::cublas_api().cublasLtMatmul(lt, call.op, &alpha, g.weight, call.a, xh, call.b, &beta, out, call.c, out, call.c,
                         &best.algo, context.cublas_lt_workspace(), context.cublas_lt_workspace_bytes(),
                         stream),
          "cublasLtMatmul");
    return;
  }
  check(strata::cuda::cublas_api().cublasGemmEx(static_cast<cublasHandle_t>(context.cublas()), CUBLAS_OP_T, CUBLAS_OP_N, n, m, k, &alpha,
                     g.weight, type, as_int(g.ldw, "weight row stride"), xh, type, as_int(ldxh, "x row stride"),
                     &beta, out, CUDA_R_32F, as_int(ldo, "y row stride"), CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
        "cublasGemmEx");
}

// bf16/f16 weights on the tensor cores. cuBLAS multiplies two matrices of one type, so the f32
// activations must meet the weight in its 16-bit type. Rounding them once (2^-9 relative in bf16) is what
// every bf16 engine does and what prefill takes; it moves fixture logits by up to ~2 % of their scale.
// Small products (decode and verification rows, up to CudaContext::precise_max_rows) instead split x,
// x ≈ hi + lo with hi = bf16(x) and lo = bf16(x − hi) (2^-17), both halves stacked as 2·rows of one
// product whose halves are then summed into y: the weight is still read once, so a weight-bound product
// costs what it did, and a decode step is near f32. Rows go in chunks within kScratchBytes.
constexpr size_t kScratchBytes = size_t{256} << 20;

void cublas_half_split(const GemmOperands& g, CudaContext& context) {
  const int64_t ldb = (g.k + 7) / 8 * 8;                  // 16-byte rows for the tensor-core loads
  const int64_t ldc = (g.n + 3) / 4 * 4;
  const size_t row_bytes = static_cast<size_t>(2 * ldb * 2 + 2 * ldc * 4);  // both halves, x and product
  const int64_t chunk = std::max<int64_t>(1, std::min<int64_t>(g.m, static_cast<int64_t>(kScratchBytes / row_bytes)));
  const size_t x_bytes = (static_cast<size_t>(2 * chunk * ldb * 2) + 255) / 256 * 256;
  char* scratch = static_cast<char*>(context.gemm_scratch(x_bytes + static_cast<size_t>(2 * chunk * ldc) * 4));
  void* xh = scratch;
  float* halves = reinterpret_cast<float*>(scratch + x_bytes);
  const bool keep_y = prepare_y(g, context.stream()) != 0.0f;  // y now holds (y or 0) + bias, or is ignored
  for (int64_t row = 0; row < g.m; row += chunk) {
    const int64_t rows = std::min(chunk, g.m - row);
    launch_split_rows(g.x + row * g.ldx, g.ldx, rows, g.k, xh, g.weight_dtype, ldb, context.stream());
    half_product(g, xh, ldb, 2 * rows, halves, ldc, 0.0f, context);
    launch_add_halves(g.y + row * g.ldy, g.ldy, rows, g.n, halves, ldc, keep_y, context.stream());
  }
}

void cublas_half_rounded(const GemmOperands& g, CudaContext& context) {
  const int64_t ldb = (g.k + 7) / 8 * 8;
  const int64_t chunk = std::max<int64_t>(1, std::min<int64_t>(g.m, static_cast<int64_t>(kScratchBytes / (2 * ldb))));
  void* xh = context.gemm_scratch(static_cast<size_t>(chunk * ldb) * 2);
  const float beta = prepare_y(g, context.stream());  // cuBLAS adds onto (y or 0) + bias, or overwrites
  for (int64_t row = 0; row < g.m; row += chunk) {
    const int64_t rows = std::min(chunk, g.m - row);
    launch_round_rows(g.x + row * g.ldx, g.ldx, rows, g.k, xh, g.weight_dtype, ldb, context.stream());
    half_product(g, xh, ldb, rows, g.y + row * g.ldy, g.ldy, beta, context);
  }
}

void cublas_half(const GemmOperands& g, CudaContext& context) {
  if (g.m <= context.precise_max_rows())
    cublas_half_split(g, context);
  else
    cublas_half_rounded(g, context);
}

}  // namespace

GemmVariant gemm_variant_for(int64_t m, DType weight_dtype) {
  const int64_t skinny_max = weight_dtype == DType::f32 ? kSkinnyMaxMExact : kSkinnyMaxM;
  return m <= skinny_max ? GemmVariant::skinny : GemmVariant::cublas;
}

const char* gemm_variant_name(GemmVariant variant) {
  switch (variant) {
    case GemmVariant::automatic:
      return "automatic";
    case GemmVariant::skinny:
      return "skinny";
    case GemmVariant::cublas:
      return "cublas";
  }
  return "?";
}

void gemm_with(GemmVariant variant, const Tensor& x, const Tensor& weight, Tensor& y,
               const GemmParams& params, const Exec& exec) {
  const GemmOperands g = operands_of(x, weight, y, params);
  if (g.m == 0 || g.n == 0) return;
  CudaContext& context = exec.cuda();
  if (g.k == 0) {  // an empty product: y = (y or 0) + bias
    launch_bias_rows(g.y, g.ldy, g.m, g.n, g.bias, g.bias_dtype, g.bias_stride, g.accumulate,
                     context.stream());
    return;
  }
  if (variant == GemmVariant::automatic) variant = gemm_variant_for(g.m, g.weight_dtype);
  if (variant == GemmVariant::skinny)
    launch_gemm_skinny(g, context.stream());
  else if (g.weight_dtype == DType::f32)
    cublas_f32(g, context);
  else
    cublas_half(g, context);
}

void gemm(const Tensor& x, const Tensor& weight, Tensor& y, const GemmParams& params, const Exec& exec) {
  gemm_with(GemmVariant::automatic, x, weight, y, params, exec);
}

namespace {

bool env_enabled(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr || std::string_view(value) != "0";
}

bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

// The skinny kernel for g, and its operands 16-byte aligned (every fused variant needs both).
bool skinny_fits(const GemmOperands& g) {
  if (g.m == 0 || g.n == 0 || g.k == 0 || g.m > 2) return false;
  if (gemm_variant_for(g.m, g.weight_dtype) != GemmVariant::skinny) return false;
  const int64_t weight_bytes = static_cast<int64_t>(dtype_size(g.weight_dtype));
  return g.k % 8 == 0 && aligned16(g.x) && (g.m == 1 || g.ldx % 4 == 0) && aligned16(g.weight) &&
         (g.n == 1 || (g.ldw * weight_bytes) % 16 == 0);
}

// Fills g.norm for the (gated) RMSNorm; false when the kernel cannot take it.
bool set_norm(GemmOperands& g, const Tensor* z, bool gate_after, int64_t n_groups, float eps,
              const Tensor& norm_weight) {
  const bool fits = n_groups == 1 && norm_weight.dtype == DType::f32 && aligned16(norm_weight.data) &&
                    (z == nullptr || (z->dtype == DType::f32 && aligned16(z->data) && (g.m == 1 || z->stride(0) % 4 == 0)));
  if (!fits) return false;
  g.norm.norm = norm_weight.ptr<const float>();
  if (z != nullptr) {
    g.norm.z = z->ptr<const float>();
    g.norm.ldz = z->stride(0);
  }
  g.norm.gate_after = gate_after;
  g.norm.eps = eps;
  return true;
}

}  // namespace

namespace {

// Off unless STRATA_CUDA_FUSE_NORM=1: measured on the H200 (mamba2-2.7b, batch-1 decode) the folded norm
// makes the skinny kernel slower than a norm kernel saves — 123 instead of 90 registers (4 blocks per
// SM, not 5) and per element a scale load and multiply, plus silu for the gate: in_proj 21.7 µs, out_proj
// 19.8 µs against 15.4 + ~4 and 8.8 + ~4 apart; 348 tok/s fused against 392.
std::atomic<bool>& fused_norm_flag() {
  static std::atomic<bool> flag{[] {
    const char* value = std::getenv("STRATA_CUDA_FUSE_NORM");
    return value != nullptr && std::string_view(value) == "1";
  }()};
  return flag;
}

}  // namespace

bool fused_norm_enabled() { return fused_norm_flag().load(std::memory_order_relaxed); }
void set_fused_norm(bool enabled) { fused_norm_flag().store(enabled, std::memory_order_relaxed); }

bool gemm_normed(const Tensor& x, const Tensor* z, bool gate_after, int64_t n_groups, float eps,
                 const Tensor& norm_weight, const Tensor& weight, Tensor& y, const GemmParams& params,
                 const Exec& exec) {
  if (!fused_norm_enabled()) return false;
  GemmOperands g = operands_of(x, weight, y, params);
  if (!skinny_fits(g) || !set_norm(g, z, gate_after, n_groups, eps, norm_weight)) return false;
  launch_gemm_skinny(g, exec.cuda().stream());
  return true;
}

bool gemm_front(const Tensor& x, const Tensor* norm_weight, float eps, const Tensor& weight, Tensor& y,
                const GemmParams& params, const FusedConv& conv, const Exec& exec) {
  static const bool enabled = env_enabled("STRATA_CUDA_FUSE_CONV");
  if (!enabled) return false;
  GemmOperands g = operands_of(x, weight, y, params);
  if (!skinny_fits(g)) return false;
  if (norm_weight != nullptr && !(fused_norm_enabled() && set_norm(g, nullptr, false, 1, eps, *norm_weight)))
    return false;
  const VarlenBatch& batch = *conv.batch;
  const Tensor& state = *conv.state;
  const int64_t K = conv.conv.kernel_width;
  if (batch.num_sequences() != g.m || batch.num_tokens() != g.m || batch.device.slots == nullptr ||
      batch.device.has_initial_state == nullptr || state.dtype != DType::f32 || K < 2 || K > 8 ||
      conv.col0 < 0 || conv.col0 + conv.conv.conv_dim > g.n || conv.weight->dtype != DType::f32 ||
      conv.out->dtype != DType::f32 || (conv.bias->data != nullptr && conv.bias->dtype != DType::f32))
    return false;
  // Row m is sequence m's only token (the kernel reads no cu_seqlens, so row_offset does not matter).
  for (int64_t i = 0; i < g.m; ++i)
    if (batch.length(i) != 1) return false;
  ConvEpilogue& e = g.conv;
  e.col0 = conv.col0;
  e.channels = conv.conv.conv_dim;
  e.width = static_cast<int>(K);
  e.weight = conv.weight->ptr<const float>();
  e.weight_stride = conv.weight->stride(0);
  e.bias = conv.bias->data != nullptr ? conv.bias->ptr<const float>() : nullptr;
  e.state = state.ptr<float>();
  e.state_slot_stride = state.stride(0);
  e.state_row_stride = state.stride(1);
  e.out = conv.out->ptr<float>();
  e.out_stride = conv.out->stride(0);
  e.slots = batch.device.slots;
  e.has_initial = batch.device.has_initial_state;
  e.silu = conv.conv.silu;
  launch_gemm_skinny(g, exec.cuda().stream());
  return true;
}

}  // namespace strata::kernels::cuda

#endif  // STRATA_HAVE_CUDA
