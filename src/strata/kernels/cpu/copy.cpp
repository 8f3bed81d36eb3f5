#include "strata/kernels/cpu/copy.h"

#include <cstring>

namespace strata::kernels::cpu {

void copy_to_f32(const Tensor& src, const Tensor& dst) {
  // A single short stream (one sequence's state): the calling thread is fastest.
  const int64_t n = dst.numel();
  float* out = dst.ptr<float>();
  switch (src.dtype) {
    case DType::f32:
      std::memcpy(out, src.data, sizeof(float) * static_cast<size_t>(n));
      return;
    case DType::bf16:
      for (int64_t i = 0; i < n; ++i) out[i] = bf16_to_f32(src.ptr<const uint16_t>()[i]);
      return;
    case DType::f16:
      for (int64_t i = 0; i < n; ++i) out[i] = f16_to_f32(src.ptr<const uint16_t>()[i]);
      return;
    default:
      return;  // state pools are float by construction (cache/state_shape.h validates them)
  }
}

}  // namespace strata::kernels::cpu
