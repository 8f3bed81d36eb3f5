// write_safetensors: writes host tensors as one valid .safetensors file, for tools and tests.
// The file appears atomically (written to a temporary beside it, then renamed over `path`), so a reader
// never sees a half-written checkpoint; an existing path that is not a regular file (a device such as
// /dev/null, a pipe) is written through instead, never replaced.
#pragma once

#include <filesystem>
#include <map>
#include <string>

#include "strata/core/tensor.h"

namespace strata::io {

// Data: ordered by descending element size, then name (as the reference writer orders by alignment), so
// with the header padded with spaces to a multiple of 8 bytes every tensor is aligned to its element
// size and readers map it without copying. Header: compact JSON, "__metadata__" first (only when
// `metadata` is non-empty), then the entries in data order. Views may be strided.
// Throws strata::Error naming the path (and tensor) for a device tensor, a name "__metadata__", a
// negative dimension, a null pointer with elements, a directory, or an I/O failure (a full disk, /dev/full).
void write_safetensors(const std::filesystem::path& path, const std::map<std::string, Tensor>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace strata::io
