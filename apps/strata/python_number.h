// Numbers on the command line read the way Python's float() and int() read them, so
// `strata pattern allocate --attention-ratio 0.15` sees the very double Megatron's Python sees.
#pragma once

#include <cstdint>
#include <string_view>

namespace strata::cli {

// Python float(): surrounding whitespace, sign, digits with single underscores between digits,
// optional fraction and exponent, inf/infinity/nan in any case; correctly rounded. Throws strata::Error
// naming `what` otherwise (hex floats are rejected, as Python does).
double parse_python_float(std::string_view text, std::string_view what);

// Python int() in base 10, restricted to the range [min, max]; throws strata::Error naming `what`.
int64_t parse_python_int(std::string_view text, std::string_view what, int64_t min, int64_t max);

}  // namespace strata::cli
