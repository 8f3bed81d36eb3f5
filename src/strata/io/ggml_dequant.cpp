#include "strata/io/ggml_dequant.h"

#include <cstring>

#include "strata/core/dtype.h"
#include "strata/core/error.h"

namespace strata::io {

namespace {

constexpr int kQk = 32;    // values per block of the simple formats
constexpr int kQkK = 256;  // values per super-block of the K-quants

float half(const uint8_t* p) {
  uint16_t bits;
  std::memcpy(&bits, p, 2);
  return f16_to_f32(bits);
}

void q8_0(const uint8_t* b, float* y) {
  const float d = half(b);
  for (int j = 0; j < kQk; ++j) y[j] = static_cast<float>(static_cast<int8_t>(b[2 + j])) * d;
}

void q4_0(const uint8_t* b, float* y) {
  const float d = half(b);
  const uint8_t* qs = b + 2;
  for (int j = 0; j < kQk / 2; ++j) {
    y[j] = static_cast<float>((qs[j] & 0x0F) - 8) * d;
    y[j + kQk / 2] = static_cast<float>((qs[j] >> 4) - 8) * d;
  }
}

void q4_1(const uint8_t* b, float* y) {
  const float d = half(b), m = half(b + 2);
  const uint8_t* qs = b + 4;
  for (int j = 0; j < kQk / 2; ++j) {
    y[j] = static_cast<float>(qs[j] & 0x0F) * d + m;
    y[j + kQk / 2] = static_cast<float>(qs[j] >> 4) * d + m;
  }
}

// Q5_0/Q5_1: the fifth bit of value j is bit j of the little-endian u32 qh.
void q5(const uint8_t* b, float* y, bool with_min) {
  const float d = half(b), m = with_min ? half(b + 2) : 0.0f;
  const uint8_t* p = b + (with_min ? 4 : 2);
  uint32_t qh;
  std::memcpy(&qh, p, 4);
  const uint8_t* qs = p + 4;
  for (int j = 0; j < kQk / 2; ++j) {
    const int high0 = static_cast<int>(((qh >> j) << 4) & 0x10);
    const int high1 = static_cast<int>((qh >> (j + 12)) & 0x10);
    const int q0 = (qs[j] & 0x0F) | high0, q1 = (qs[j] >> 4) | high1;
    if (with_min) {
      y[j] = static_cast<float>(q0) * d + m;
      y[j + kQk / 2] = static_cast<float>(q1) * d + m;
    } else {
      y[j] = static_cast<float>(q0 - 16) * d;
      y[j + kQk / 2] = static_cast<float>(q1 - 16) * d;
    }
  }
}

// The 6-bit scale and min of sub-block j (0..7) of a Q4_K/Q5_K super-block.
void scale_min(int j, const uint8_t* q, int& scale, int& min) {
  if (j < 4) {
    scale = q[j] & 63;
    min = q[j + 4] & 63;
  } else {
    scale = (q[j + 4] & 0x0F) | ((q[j - 4] >> 6) << 4);
    min = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
  }
}

void q45_k(const uint8_t* b, float* y, bool five) {
  const float d = half(b), dmin = half(b + 2);
  const uint8_t* scales = b + 4;
  const uint8_t* qh = b + 16;
  const uint8_t* ql = b + (five ? 48 : 16);
  int sub = 0;
  uint8_t u1 = 1, u2 = 2;
  for (int j = 0; j < kQkK; j += 64) {
    int sc, m;
    scale_min(sub, scales, sc, m);
    const float d1 = d * static_cast<float>(sc), m1 = dmin * static_cast<float>(m);
    scale_min(sub + 1, scales, sc, m);
    const float d2 = d * static_cast<float>(sc), m2 = dmin * static_cast<float>(m);
    for (int l = 0; l < 32; ++l) {
      const int q = (ql[l] & 0x0F) + (five && (qh[l] & u1) ? 16 : 0);
      *y++ = d1 * static_cast<float>(q) - m1;
    }
    for (int l = 0; l < 32; ++l) {
      const int q = (ql[l] >> 4) + (five && (qh[l] & u2) ? 16 : 0);
      *y++ = d2 * static_cast<float>(q) - m2;
    }
    ql += 32;
    sub += 2;
    u1 = static_cast<uint8_t>(u1 << 2);
    u2 = static_cast<uint8_t>(u2 << 2);
  }
}

void q6_k(const uint8_t* b, float* y) {
  const uint8_t* ql = b;
  const uint8_t* qh = b + 128;
  const auto* sc = reinterpret_cast<const int8_t*>(b + 192);
  const float d = half(b + 208);
  for (int n = 0; n < kQkK; n += 128) {
    for (int l = 0; l < 32; ++l) {
      const int is = l / 16;
      const int q1 = ((ql[l] & 0x0F) | (((qh[l] >> 0) & 3) << 4)) - 32;
      const int q2 = ((ql[l + 32] & 0x0F) | (((qh[l] >> 2) & 3) << 4)) - 32;
      const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
      const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
      y[l] = d * static_cast<float>(sc[is]) * static_cast<float>(q1);
      y[l + 32] = d * static_cast<float>(sc[is + 2]) * static_cast<float>(q2);
      y[l + 64] = d * static_cast<float>(sc[is + 4]) * static_cast<float>(q3);
      y[l + 96] = d * static_cast<float>(sc[is + 6]) * static_cast<float>(q4);
    }
    y += 128;
    ql += 64;
    qh += 32;
    sc += 8;
  }
}

}  // namespace

bool ggml_type_decodable(GgmlType type) {
  switch (type) {
    case GgmlType::f32: case GgmlType::f16: case GgmlType::bf16: case GgmlType::q8_0: case GgmlType::q4_0:
    case GgmlType::q4_1: case GgmlType::q5_0: case GgmlType::q5_1: case GgmlType::q4_k: case GgmlType::q5_k:
    case GgmlType::q6_k:
      return true;
    default:
      return false;
  }
}

void dequantize(GgmlType type, const std::byte* blocks, int64_t count, float* out) {
  if (!ggml_type_decodable(type)) fail("GGUF: tensors of type {} cannot be decoded yet", ggml_type_name(type));
  const auto* b = reinterpret_cast<const uint8_t*>(blocks);
  const int64_t per_block = ggml_block_elements(type), bytes = ggml_block_bytes(type);
  if (count % per_block != 0) fail("GGUF: {} values are not whole {} blocks of {}", count, ggml_type_name(type), per_block);
  for (int64_t i = 0; i < count / per_block; ++i, b += bytes, out += per_block) {
    switch (type) {
      case GgmlType::f32: std::memcpy(out, b, 4); break;
      case GgmlType::f16: *out = half(b); break;
      case GgmlType::bf16: {
        uint16_t bits;
        std::memcpy(&bits, b, 2);
        *out = bf16_to_f32(bits);
        break;
      }
      case GgmlType::q8_0: q8_0(b, out); break;
      case GgmlType::q4_0: q4_0(b, out); break;
      case GgmlType::q4_1: q4_1(b, out); break;
      case GgmlType::q5_0: q5(b, out, false); break;
      case GgmlType::q5_1: q5(b, out, true); break;
      case GgmlType::q4_k: q45_k(b, out, false); break;
      case GgmlType::q5_k: q45_k(b, out, true); break;
      default: q6_k(b, out); break;  // q6_k (ggml_type_decodable checked)
    }
  }
}

}  // namespace strata::io
