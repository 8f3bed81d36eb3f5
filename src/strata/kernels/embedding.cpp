#include "strata/kernels/embedding.h"

#include "strata/core/error.h"
#include "strata/kernels/cpu/embedding.h"
#include "strata/kernels/dispatch.h"
#if STRATA_HAVE_CUDA
#include "strata/kernels/cuda/embedding.h"
#endif

namespace strata::kernels {
namespace {

// CUDA calls check the layouts the header promises (shapes and dtypes only: token ids and row indices
// are device data and are not read, see embedding.h). The CPU loops trust their callers as before.
[[maybe_unused]] void require_gather(const char* op, const Tensor& table, bool float_table, const Tensor& index,
                                     DType index_dtype, const Tensor& out) {
  const bool table_dtype_ok =
      table.dtype == DType::f32 || (float_table && (table.dtype == DType::bf16 || table.dtype == DType::f16));
  if (!table_dtype_ok || table.ndim != 2 || (table.numel() > 0 && table.stride(1) != 1))
    fail("{}: the source is {}, expected {} [rows, width] with unit column stride", op, table.describe(),
         float_table ? "f32/bf16/f16" : "f32");
  if (index.dtype != index_dtype || index.ndim != 1 || (index.size(0) > 1 && index.stride(0) != 1))
    fail("{}: the indices are {}, expected contiguous {}[n]", op, index.describe(), dtype_name(index_dtype));
  if (out.dtype != DType::f32 || out.ndim != 2 || out.size(0) != index.size(0) || out.size(1) != table.size(1) ||
      !out.is_contiguous())
    fail("{}: out is {}, expected contiguous f32[{}, {}]", op, out.describe(), index.size(0), table.size(1));
}

}  // namespace

void embedding_gather(const Tensor& table, const Tensor& token_ids, const Tensor& out, const Exec& exec) {
  if (detail::device_of("embedding_gather", exec, {&table, &token_ids, &out}) == Device::cuda) {
#if STRATA_HAVE_CUDA
    require_gather("embedding_gather", table, true, token_ids, DType::i32, out);
    return cuda::embedding_gather(table, token_ids, out, exec);
#endif
  }
  cpu::embedding_gather(table, token_ids, out, exec.pool());
}

void gather_rows(const Tensor& src, const Tensor& rows, const Tensor& out, const Exec& exec) {
  if (detail::device_of("gather_rows", exec, {&src, &rows, &out}) == Device::cuda) {
#if STRATA_HAVE_CUDA
    require_gather("gather_rows", src, false, rows, DType::i64, out);
    return cuda::gather_rows(src, rows, out, exec);
#endif
  }
  cpu::gather_rows(src, rows, out, exec.pool());
}

}  // namespace strata::kernels
