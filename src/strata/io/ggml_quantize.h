// f32 values into ggml block formats, as ggml's reference quantizers write them, so a file strata writes
// holds the bytes llama.cpp's own tools would (checked against gguf-py, which reproduces ggml bit for bit).
//   Q8_0: per 32 values d = max|x| / 127 (stored as f16, round to nearest even), q = round(x / d) with
//         halves away from zero (ggml multiplies by 1/d: id = d ? 1/d : 0, q = roundf(x · id)).
// F16 and BF16 round to nearest even. K-quants (Q4_K, Q5_K, Q6_K) come with their search-based scales later.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "strata/io/gguf.h"

namespace strata::io {

// Whether quantize() writes the type (F32, F16, BF16, Q8_0).
bool ggml_type_writable(GgmlType type);

// The encoding of `count` values (a multiple of the type's block). Throws strata::Error for another type.
std::vector<std::byte> quantize(GgmlType type, const float* values, int64_t count);

}  // namespace strata::io
