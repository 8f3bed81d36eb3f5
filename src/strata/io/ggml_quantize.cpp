#include "strata/io/ggml_quantize.h"

#include <cmath>
#include <cstring>

#include "strata/core/dtype.h"
#include "strata/core/error.h"

namespace strata::io {

bool ggml_type_writable(GgmlType type) {
  return type == GgmlType::f32 || type == GgmlType::f16 || type == GgmlType::bf16 || type == GgmlType::q8_0;
}

std::vector<std::byte> quantize(GgmlType type, const float* values, int64_t count) {
  if (!ggml_type_writable(type)) fail("quantize: writing {} is not supported yet (F32, F16, BF16, Q8_0)", ggml_type_name(type));
  const int64_t block = ggml_block_elements(type);
  if (count % block != 0) fail("quantize: {} values are not whole {} blocks of {}", count, ggml_type_name(type), block);
  std::vector<std::byte> out(static_cast<size_t>(count / block * ggml_block_bytes(type)));
  std::byte* p = out.data();
  switch (type) {
    case GgmlType::f32:
      std::memcpy(p, values, out.size());
      break;
    case GgmlType::f16:
    case GgmlType::bf16:
      for (int64_t i = 0; i < count; ++i) {
        const uint16_t bits = type == GgmlType::f16 ? f32_to_f16(values[i]) : f32_to_bf16(values[i]);
        std::memcpy(p + 2 * i, &bits, 2);
      }
      break;
    default:  // Q8_0
      for (int64_t b = 0; b < count / 32; ++b, p += 34) {
        const float* x = values + 32 * b;
        float amax = 0.0f;
        for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[j]));
        const float d = amax / 127.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        const uint16_t dh = f32_to_f16(d);
        std::memcpy(p, &dh, 2);
        for (int j = 0; j < 32; ++j) {
          const auto q = static_cast<int8_t>(std::round(x[j] * id));  // roundf: halves away from zero
          std::memcpy(p + 2 + j, &q, 1);
        }
      }
      break;
  }
  return out;
}

}  // namespace strata::io
