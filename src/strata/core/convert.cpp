#include "strata/core/convert.h"

#include <cstring>

#include "strata/core/error.h"

namespace strata {

void convert_to_f32(const Tensor& src, float* dst, const char* what) {
  if (!src.is_contiguous()) fail("{}: expected a contiguous tensor, got {}", what, src.describe());
  const int64_t n = src.numel();
  switch (src.dtype) {
    case DType::f32:
      std::memcpy(dst, src.data, static_cast<size_t>(n) * sizeof(float));
      return;
    case DType::bf16:
      for (int64_t i = 0; i < n; ++i) dst[i] = bf16_to_f32(src.ptr<const uint16_t>()[i]);
      return;
    case DType::f16:
      for (int64_t i = 0; i < n; ++i) dst[i] = f16_to_f32(src.ptr<const uint16_t>()[i]);
      return;
    default:
      fail("{}: expected a floating-point tensor (f32, bf16, f16), got {}", what, src.describe());
  }
}

}  // namespace strata
