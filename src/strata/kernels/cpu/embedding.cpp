#include "strata/kernels/cpu/embedding.h"

#include <cstring>

#include "strata/kernels/cpu/parallel_rows.h"

namespace strata::kernels::cpu {

namespace {

void widen_row(const void* src, DType dtype, float* dst, int64_t n) {
  switch (dtype) {
    case DType::f32:
      std::memcpy(dst, src, sizeof(float) * static_cast<size_t>(n));
      return;
    case DType::bf16: {
      const auto* p = static_cast<const uint16_t*>(src);
      for (int64_t i = 0; i < n; ++i) dst[i] = bf16_to_f32(p[i]);
      return;
    }
    case DType::f16: {
      const auto* p = static_cast<const uint16_t*>(src);
      for (int64_t i = 0; i < n; ++i) dst[i] = f16_to_f32(p[i]);
      return;
    }
    default:
      return;  // the loader admits only float tables
  }
}

}  // namespace

void embedding_gather(const Tensor& table, const Tensor& token_ids, const Tensor& out, ThreadPool& pool) {
  const int64_t tokens = out.size(0), width = out.size(1);
  const size_t row_bytes = static_cast<size_t>(table.stride(0)) * dtype_size(table.dtype);
  const auto run = [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; ++t)
      widen_row(static_cast<const char*>(table.data) + static_cast<size_t>(token_ids.ptr<const int32_t>()[t]) * row_bytes,
                table.dtype, out.ptr<float>() + t * width, width);
  };
  parallel_rows(pool, tokens, width, run);
}

void gather_rows(const Tensor& src, const Tensor& rows, const Tensor& out, ThreadPool& pool) {
  const int64_t n = out.size(0), width = out.size(1);
  const auto run = [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i)
      std::memcpy(out.ptr<float>() + i * width, src.ptr<const float>() + rows.ptr<const int64_t>()[i] * src.stride(0),
                  sizeof(float) * static_cast<size_t>(width));
  };
  parallel_rows(pool, n, width, run);
}

}  // namespace strata::kernels::cpu
