// SafetensorsFile: one .safetensors file, memory-mapped and validated in full at open(); tensors come
// back as read-only strata::Tensor views into the mapping, valid while the SafetensorsFile lives.
// Format (Hugging Face safetensors): u64 LE header length N | N bytes of JSON | data section.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "strata/core/dtype.h"
#include "strata/core/tensor.h"
#include "strata/io/mapped_file.h"

namespace strata::io {

// The reference implementation's cap on the JSON header (safetensors tensor.rs MAX_HEADER_SIZE).
inline constexpr uint64_t kSafetensorsMaxHeaderBytes = 100'000'000;

// The file's name for a strata dtype: "F32", "F16", "BF16", "I64", "I32", "I16", "I8", "U8", "BOOL".
std::string_view safetensors_dtype_name(DType dtype);
// The strata dtype for a safetensors dtype name, or nullopt for every other name (F64, F8_E4M3, U32, ...).
std::optional<DType> dtype_from_safetensors(std::string_view name);

// One tensor's header entry, as validated.
struct SafetensorsTensorInfo {
  std::string dtype_name;      // as written in the file, e.g. "BF16"
  std::optional<DType> dtype;  // nullopt: a valid safetensors dtype strata cannot compute with (F64, F8_*)
  std::vector<int64_t> shape;  // [] for a scalar
  uint64_t data_begin = 0;     // [data_begin, data_end) relative to the data section
  uint64_t data_end = 0;
  bool copied = false;  // true when the bytes were misaligned in the file and live in a copy
};

class SafetensorsFile {
 public:
  // Maps and validates the whole file. Throws one strata::Error naming the file and the problem for:
  // a file shorter than 8 bytes, a header length beyond the file or kSafetensorsMaxHeaderBytes, a header
  // that is not a JSON object (or has duplicate keys), a tensor missing dtype/shape/data_offsets or with
  // an unknown dtype, negative/non-integer/overflowing shapes, offsets outside the data section, a byte
  // size that disagrees with shape x dtype, and tensors that overlap or leave gaps in the data section.
  //
  // Alignment: kernels need each element aligned to its size. The reference writer guarantees that, but
  // other writers need not pad the header; a tensor whose bytes sit misaligned in the (page-aligned)
  // mapping is copied once, at open(), into 64-byte-aligned memory owned here (info().copied tells).
  static SafetensorsFile open(const std::filesystem::path& path);

  SafetensorsFile() = default;
  SafetensorsFile(SafetensorsFile&&) noexcept = default;
  SafetensorsFile& operator=(SafetensorsFile&&) noexcept = default;

  const std::filesystem::path& path() const { return file_.path(); }
  // The "__metadata__" map (HF writes {"format": "pt"}); empty when absent.
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  // Tensor names, sorted.
  const std::vector<std::string>& names() const { return names_; }
  size_t size() const { return names_.size(); }
  bool has(std::string_view name) const;
  // Throws strata::Error naming the tensor and the file if it is absent.
  const SafetensorsTensorInfo& info(std::string_view name) const;
  // A contiguous read-only view (never write through it: the mapping is read-only). Throws strata::Error
  // naming the tensor and the file if it is absent, its dtype is not one strata supports, or its rank
  // exceeds kMaxDims.
  Tensor get(std::string_view name) const;

 private:
  struct Entry {
    SafetensorsTensorInfo info;
    const std::byte* bytes = nullptr;  // into the mapping, or into a copy below
  };
  const Entry& entry(std::string_view name) const;

  MappedFile file_;
  std::map<std::string, std::string> metadata_;
  std::map<std::string, Entry, std::less<>> entries_;
  std::vector<std::string> names_;
  std::vector<Buffer> copies_;  // aligned copies of misaligned tensors; heap memory, stable across moves
};

}  // namespace strata::io
