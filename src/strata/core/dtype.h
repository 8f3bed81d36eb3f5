// Element types strata stores and computes with, and the scalar conversions between them.
// Weights stay in their checkpoint dtype (bf16 usually); accumulation is always fp32.
#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>

namespace strata {

enum class DType : uint8_t { f32, f16, bf16, i64, i32, i16, i8, u8, boolean };

// Bytes per element.
constexpr size_t dtype_size(DType t) {
  switch (t) {
    case DType::f32: case DType::i32: return 4;
    case DType::f16: case DType::bf16: case DType::i16: return 2;
    case DType::i64: return 8;
    case DType::i8: case DType::u8: case DType::boolean: return 1;
  }
  return 0;
}

// Lower-case name as used on the CLI and in JSON ("f32", "bf16", ...).
std::string_view dtype_name(DType t);
// Parses "f32"/"float32"/"fp32", "bf16"/"bfloat16", "f16"/"float16"/"fp16"; throws strata::Error otherwise.
DType parse_dtype(std::string_view name);

// bf16 is the top half of an fp32; rounding is to nearest even, NaN stays NaN.
inline float bf16_to_f32(uint16_t bits) {
  uint32_t u = static_cast<uint32_t>(bits) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
inline uint16_t f32_to_bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x40);  // quiet NaN
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<uint16_t>(u >> 16);
}

// IEEE binary16 conversions (exact for every half value; round-to-nearest-even on the way down).
float f16_to_f32(uint16_t bits);
uint16_t f32_to_f16(float f);

}  // namespace strata
