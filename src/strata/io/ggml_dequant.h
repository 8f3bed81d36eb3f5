// ggml's block formats (the quantized tensor types of GGUF files), decoded to f32 exactly as ggml's
// reference dequantize_row_* functions compute them (and llama.cpp's gguf-py reproduces in numpy): each
// value is the block's f16 scale (for K-quants, the super-block scale times a 6- or 8-bit sub-block scale,
// rounded to f32 once) times the quant, minus the sub-block minimum where the format has one. Written from
// the formats' layout, one function per type; the tests compare every type with gguf-py bit for bit.
//   Q8_0  32 values: f16 d, 32 × i8                                      x = d·q
//   Q4_0  32 values: f16 d, 16 bytes of nibbles (low: 0..15, high: 16..31) x = d·(q − 8)
//   Q4_1  32 values: f16 d, f16 m, nibbles                               x = d·q + m
//   Q5_0  32 values: f16 d, 32 high bits, nibbles                        x = d·(q − 16)
//   Q5_1  32 values: f16 d, f16 m, 32 high bits, nibbles                 x = d·q + m
//   Q4_K 256 values: f16 d, f16 dmin, 12 bytes of 6-bit scales/mins for 8 × 32, 128 bytes of nibbles
//   Q5_K 256 values: as Q4_K plus 32 bytes of high bits
//   Q6_K 256 values: 128 bytes of low nibbles, 64 of 2-bit highs, 16 × i8 scales (per 16), f16 d
#pragma once

#include <cstddef>
#include <cstdint>

#include "strata/io/gguf.h"

namespace strata::io {

// Whether dequantize() decodes the type (the float types and the list above; Q2_K, Q3_K and Q8_K not yet).
bool ggml_type_decodable(GgmlType type);

// Decodes `count` values (a multiple of the type's block) from `blocks` into `out`. Throws strata::Error
// for a type it does not decode.
void dequantize(GgmlType type, const std::byte* blocks, int64_t count, float* out);

}  // namespace strata::io
