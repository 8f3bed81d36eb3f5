// GgufFile: one GGUF file (llama.cpp's model format, version 2 or 3), memory-mapped and validated in full
// at open(): the metadata key/value pairs, the tensor directory, and the data section. Tensors of the
// float types come back as read-only strata::Tensor views into the mapping; every tensor's raw bytes are
// reachable for the quantized types (a later change decodes them).
//
// Format (little-endian): "GGUF" | u32 version | u64 tensor_count | u64 kv_count | kv_count × (string key,
// u32 value type, value) | tensor_count × (string name, u32 n_dims, n_dims × u64 ne, u32 ggml type,
// u64 offset) | padding to the alignment | data section. A string is u64 length + bytes (no terminator);
// an array is u32 element type + u64 count + elements. `general.alignment` (u32, a power of two; default
// 32) aligns the data section's start and every tensor offset. ggml's dimensions run fastest first:
// ne = {cols, rows, ...}, so the row-major shape strata uses is ne reversed.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "strata/core/dtype.h"
#include "strata/core/tensor.h"
#include "strata/io/mapped_file.h"

namespace strata::io {

// Caps that keep a hostile header from making open() allocate or loop without bound (each named in the
// error that refuses a file past it).
inline constexpr uint64_t kGgufMaxTensors = 1u << 20;
inline constexpr uint64_t kGgufMaxKeyValues = 1u << 20;
inline constexpr uint64_t kGgufMaxStringBytes = 1u << 26;      // 64 MiB for one string
inline constexpr uint64_t kGgufMaxArrayElements = 1u << 26;    // e.g. a tokenizer's merges
inline constexpr uint32_t kGgufMaxDims = 4;                    // GGML_MAX_DIMS

// The metadata value types, with the file's numbering.
enum class GgufType : uint32_t {
  u8 = 0, i8 = 1, u16 = 2, i16 = 3, u32 = 4, i32 = 5, f32 = 6, boolean = 7, string = 8, array = 9,
  u64 = 10, i64 = 11, f64 = 12,
};

// ggml's tensor types strata knows by name (others are refused at open(), naming the number).
enum class GgmlType : uint32_t {
  f32 = 0, f16 = 1, q4_0 = 2, q4_1 = 3, q5_0 = 6, q5_1 = 7, q8_0 = 8, q8_1 = 9, q2_k = 10, q3_k = 11,
  q4_k = 12, q5_k = 13, q6_k = 14, q8_k = 15, bf16 = 30,
};

// "F32", "Q4_K", ...
std::string_view ggml_type_name(GgmlType type);
// Elements per block and bytes per block of a type (1 and 4 for F32; 32 and 34 for Q8_0; 256 and 144 for
// Q4_K ...), as ggml's type traits define them.
int64_t ggml_block_elements(GgmlType type);
int64_t ggml_block_bytes(GgmlType type);

// One metadata value. Arrays hold one std::vector of the element type (no arrays of arrays in the files
// llama.cpp writes; a nested array is refused at open()).
struct GgufValue {
  using Array = std::variant<std::vector<uint64_t>, std::vector<int64_t>, std::vector<double>, std::vector<bool>,
                             std::vector<std::string>>;
  GgufType type = GgufType::u8;
  GgufType element_type = GgufType::u8;  // for arrays
  // Scalars: unsigned types in u, signed in i, floats in f, bool in b; strings in s; arrays in array
  // (u8..u64 → uint64_t, i8..i64 → int64_t, f32/f64 → double).
  uint64_t u = 0;
  int64_t i = 0;
  double f = 0.0;
  bool b = false;
  std::string s;
  Array array;
};

struct GgufTensorInfo {
  std::string name;
  GgmlType type = GgmlType::f32;
  std::vector<int64_t> ne;     // ggml order: ne[0] is the fastest dimension
  std::vector<int64_t> shape;  // row-major (ne reversed)
  uint64_t offset = 0;         // relative to the data section
  uint64_t bytes = 0;          // ne[0]/block_elements·block_bytes·ne[1]·…
};

class GgufFile {
 public:
  // Maps and validates the whole file. Throws one strata::Error naming the file, the section and the byte
  // offset for: a file shorter than the fixed header, bad magic, a version other than 2 or 3, counts past
  // the caps above, a string or array running past the end of the file (or past its cap), an unknown
  // value type or a nested array, a duplicate key or tensor name, `general.alignment` not a u32 power of
  // two, a tensor with 0 or more than kGgufMaxDims dimensions, a dimension < 1 or a product overflowing
  // 63 bits, an unknown ggml type, ne[0] not a multiple of the type's block, an offset not aligned, a
  // tensor's bytes outside the data section, two tensors whose bytes overlap, and an alignment smaller
  // than a float tensor's element size (its view would be misaligned).
  static GgufFile open(const std::filesystem::path& path);

  GgufFile() = default;
  GgufFile(GgufFile&&) noexcept = default;
  GgufFile& operator=(GgufFile&&) noexcept = default;

  const std::filesystem::path& path() const { return file_.path(); }
  uint32_t version() const { return version_; }
  uint64_t alignment() const { return alignment_; }

  // Metadata. find() returns nullptr when absent; the typed getters throw strata::Error naming the key,
  // the file and the type found when it is absent (without a fallback) or of another type. Integers of
  // any width and signedness are accepted where they fit the requested type.
  const std::map<std::string, GgufValue, std::less<>>& metadata() const { return metadata_; }
  const GgufValue* find(std::string_view key) const;
  std::string get_string(std::string_view key) const;
  std::optional<std::string> get_string_or(std::string_view key) const;  // nullopt when absent
  int64_t get_int(std::string_view key) const;
  std::optional<int64_t> get_int_or(std::string_view key) const;
  double get_float(std::string_view key) const;  // f32/f64 (integers too)
  std::optional<double> get_float_or(std::string_view key) const;
  bool get_bool(std::string_view key) const;
  std::optional<bool> get_bool_or(std::string_view key) const;
  // Array values; an integer array is returned as int64_t (values past 2^63 refused).
  std::vector<int64_t> get_int_array(std::string_view key) const;
  std::vector<double> get_float_array(std::string_view key) const;
  const std::vector<std::string>& get_string_array(std::string_view key) const;

  // Tensors, in file order.
  const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }
  bool has(std::string_view name) const;
  // Throws strata::Error naming the tensor and the file when absent.
  const GgufTensorInfo& info(std::string_view name) const;
  // The tensor's bytes in the mapping (any type).
  std::span<const std::byte> bytes(std::string_view name) const;
  // A contiguous read-only row-major view of an F32, F16 or BF16 tensor (shape = ne reversed). Throws
  // strata::Error naming the tensor, its type and the file for the other (quantized) types.
  Tensor get(std::string_view name) const;

 private:
  MappedFile file_;
  uint32_t version_ = 0;
  uint64_t alignment_ = 32;
  const std::byte* data_ = nullptr;  // the data section's start in the mapping
  std::map<std::string, GgufValue, std::less<>> metadata_;
  std::vector<GgufTensorInfo> tensors_;
  std::map<std::string, size_t, std::less<>> tensor_index_;
};

// Whether `path` names a GGUF file (a regular file whose first four bytes are "GGUF"); false for
// directories and unreadable paths. How the CLI tells a GGUF file from a Hugging Face directory.
bool is_gguf_file(const std::filesystem::path& path);

}  // namespace strata::io
