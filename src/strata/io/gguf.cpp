#include "strata/io/gguf.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cstring>
#include <fstream>
#include <limits>
#include <system_error>
#include <type_traits>
#include <utility>

#include <fmt/ranges.h>

#include "strata/core/error.h"

namespace strata::io {

static_assert(std::endian::native == std::endian::little, "the GGUF reader assumes a little-endian host");
static_assert(kGgufMaxDims <= static_cast<uint32_t>(kMaxDims), "a GGUF tensor must fit a strata::Tensor");

namespace {

// ggml's type traits for the types strata knows, and the dtype of those get() can view.
struct GgmlTraits {
  GgmlType type;
  std::string_view name;
  int64_t block_elements;
  int64_t block_bytes;
  std::optional<DType> dtype;
};
constexpr std::array<GgmlTraits, 15> kGgmlTypes{{
    {GgmlType::f32, "F32", 1, 4, DType::f32},
    {GgmlType::f16, "F16", 1, 2, DType::f16},
    {GgmlType::q4_0, "Q4_0", 32, 18, std::nullopt},
    {GgmlType::q4_1, "Q4_1", 32, 20, std::nullopt},
    {GgmlType::q5_0, "Q5_0", 32, 22, std::nullopt},
    {GgmlType::q5_1, "Q5_1", 32, 24, std::nullopt},
    {GgmlType::q8_0, "Q8_0", 32, 34, std::nullopt},
    {GgmlType::q8_1, "Q8_1", 32, 36, std::nullopt},
    {GgmlType::q2_k, "Q2_K", 256, 84, std::nullopt},
    {GgmlType::q3_k, "Q3_K", 256, 110, std::nullopt},
    {GgmlType::q4_k, "Q4_K", 256, 144, std::nullopt},
    {GgmlType::q5_k, "Q5_K", 256, 176, std::nullopt},
    {GgmlType::q6_k, "Q6_K", 256, 210, std::nullopt},
    {GgmlType::q8_k, "Q8_K", 256, 292, std::nullopt},
    {GgmlType::bf16, "BF16", 1, 2, DType::bf16},
}};

const GgmlTraits* find_ggml_type(uint32_t id) {
  for (const GgmlTraits& t : kGgmlTypes)
    if (static_cast<uint32_t>(t.type) == id) return &t;
  return nullptr;
}

bool is_known_value_type(uint32_t id) { return id <= static_cast<uint32_t>(GgufType::f64); }

std::string_view value_type_name(GgufType type) {
  switch (type) {
    case GgufType::u8: return "u8";
    case GgufType::i8: return "i8";
    case GgufType::u16: return "u16";
    case GgufType::i16: return "i16";
    case GgufType::u32: return "u32";
    case GgufType::i32: return "i32";
    case GgufType::f32: return "f32";
    case GgufType::boolean: return "bool";
    case GgufType::string: return "string";
    case GgufType::array: return "array";
    case GgufType::u64: return "u64";
    case GgufType::i64: return "i64";
    case GgufType::f64: return "f64";
  }
  return "?";
}

// "u32", "string", "array of f32", for messages about a value found.
std::string describe_type(const GgufValue& value) {
  if (value.type == GgufType::array) return fmt::format("an array of {}", value_type_name(value.element_type));
  return fmt::format("{}", value_type_name(value.type));
}

bool is_unsigned(GgufType t) {
  return t == GgufType::u8 || t == GgufType::u16 || t == GgufType::u32 || t == GgufType::u64;
}
bool is_signed(GgufType t) {
  return t == GgufType::i8 || t == GgufType::i16 || t == GgufType::i32 || t == GgufType::i64;
}
bool is_float(GgufType t) { return t == GgufType::f32 || t == GgufType::f64; }

// Bytes one scalar of `type` takes in the file (the smallest a string can take: its length field).
uint64_t encoded_size(GgufType type) {
  switch (type) {
    case GgufType::u8: case GgufType::i8: case GgufType::boolean: return 1;
    case GgufType::u16: case GgufType::i16: return 2;
    case GgufType::u32: case GgufType::i32: case GgufType::f32: return 4;
    case GgufType::u64: case GgufType::i64: case GgufType::f64: case GgufType::string: return 8;
    case GgufType::array: return 12;  // element type + count
  }
  return 1;
}

// A bounds-checked little-endian cursor over the mapping. `section` names the part being read; every
// error starts with "file: section at byte N: ".
class Reader {
 public:
  Reader(std::string file, const std::byte* base, uint64_t size) : file_(std::move(file)), base_(base), size_(size) {}

  uint64_t pos() const { return pos_; }
  uint64_t size() const { return size_; }
  uint64_t left() const { return size_ - pos_; }
  const std::string& file() const { return file_; }
  void set_section(std::string section) { section_ = std::move(section); }

  template <typename... Args>
  [[noreturn]] void fail_at(uint64_t offset, fmt::format_string<Args...> format, Args&&... args) const {
    fail("{}: {} at byte {}: {}", file_, section_, offset, fmt::format(format, std::forward<Args>(args)...));
  }

  // Throws unless `n` more bytes exist; `what` names the field for the message.
  void need(uint64_t n, std::string_view what) const {
    if (n > left())
      fail_at(pos_, "truncated: the {} needs {} bytes but only {} remain (the file is {} bytes)", what, n, left(),
              size_);
  }

  template <typename T>
  T read(std::string_view what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, base_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }

  std::string read_string(std::string_view what) {
    const uint64_t at = pos_;
    const uint64_t length = read<uint64_t>(fmt::format("length of the {}", what));
    if (length > kGgufMaxStringBytes)
      fail_at(at, "the {} has length {}, past the {}-byte limit for one string", what, length, kGgufMaxStringBytes);
    if (length > left())
      fail_at(at, "truncated: the {} has length {}, which runs past the end of the file ({} bytes remain)", what,
              length, left());
    std::string s(reinterpret_cast<const char*>(base_ + pos_), static_cast<size_t>(length));
    pos_ += length;
    return s;
  }

 private:
  std::string file_;
  std::string section_ = "header";
  const std::byte* base_;
  uint64_t size_;
  uint64_t pos_ = 0;
};

// One scalar of `type` at the reader's position into `out`'s u / i / f / b / s.
void read_scalar(Reader& r, GgufType type, GgufValue& out) {
  switch (type) {
    case GgufType::u8: out.u = r.read<uint8_t>("u8 value"); return;
    case GgufType::i8: out.i = r.read<int8_t>("i8 value"); return;
    case GgufType::u16: out.u = r.read<uint16_t>("u16 value"); return;
    case GgufType::i16: out.i = r.read<int16_t>("i16 value"); return;
    case GgufType::u32: out.u = r.read<uint32_t>("u32 value"); return;
    case GgufType::i32: out.i = r.read<int32_t>("i32 value"); return;
    case GgufType::u64: out.u = r.read<uint64_t>("u64 value"); return;
    case GgufType::i64: out.i = r.read<int64_t>("i64 value"); return;
    case GgufType::f32: out.f = r.read<float>("f32 value"); return;
    case GgufType::f64: out.f = r.read<double>("f64 value"); return;
    case GgufType::boolean: out.b = r.read<uint8_t>("bool value") != 0; return;
    case GgufType::string: out.s = r.read_string("string value"); return;
    case GgufType::array: break;
  }
  r.fail_at(r.pos(), "internal error: read_scalar on an array");
}

template <typename T>
std::vector<T> read_elements(Reader& r, GgufType type, uint64_t count) {
  std::vector<T> values;
  values.reserve(static_cast<size_t>(count));  // bounded by the cap and the bytes left (checked by the caller)
  GgufValue scratch;
  for (uint64_t k = 0; k < count; ++k) {
    read_scalar(r, type, scratch);
    if constexpr (std::is_same_v<T, uint64_t>) values.push_back(scratch.u);
    else if constexpr (std::is_same_v<T, int64_t>) values.push_back(scratch.i);
    else if constexpr (std::is_same_v<T, double>) values.push_back(scratch.f);
    else if constexpr (std::is_same_v<T, bool>) values.push_back(scratch.b);
    else values.push_back(std::move(scratch.s));
  }
  return values;
}

GgufValue read_value(Reader& r, uint64_t type_at, uint32_t type_id) {
  if (!is_known_value_type(type_id))
    r.fail_at(type_at, "unknown value type {} (known: 0..12)", type_id);
  GgufValue value;
  value.type = static_cast<GgufType>(type_id);
  if (value.type != GgufType::array) {
    read_scalar(r, value.type, value);
    return value;
  }
  const uint64_t element_at = r.pos();
  const uint32_t element_id = r.read<uint32_t>("array element type");
  if (element_id == static_cast<uint32_t>(GgufType::array))
    r.fail_at(element_at, "nested array (an array of arrays) is not supported");
  if (!is_known_value_type(element_id))
    r.fail_at(element_at, "array has unknown element type {} (known: 0..12)", element_id);
  value.element_type = static_cast<GgufType>(element_id);
  const uint64_t count_at = r.pos();
  const uint64_t count = r.read<uint64_t>("array count");
  if (count > kGgufMaxArrayElements)
    r.fail_at(count_at, "array count {} is past the limit of {} elements", count, kGgufMaxArrayElements);
  const uint64_t element_bytes = encoded_size(value.element_type);
  if (count * element_bytes > r.left())  // count ≤ 2^26 and element_bytes ≤ 8: no overflow
    r.fail_at(count_at,
              "truncated: an array of {} {} elements needs at least {} bytes, past the end of the file ({} bytes "
              "remain)",
              count, value_type_name(value.element_type), count * element_bytes, r.left());
  const GgufType t = value.element_type;
  if (is_unsigned(t)) value.array = read_elements<uint64_t>(r, t, count);
  else if (is_signed(t)) value.array = read_elements<int64_t>(r, t, count);
  else if (is_float(t)) value.array = read_elements<double>(r, t, count);
  else if (t == GgufType::boolean) value.array = read_elements<bool>(r, t, count);
  else value.array = read_elements<std::string>(r, t, count);
  return value;
}

std::string ne_text(const std::vector<int64_t>& ne) { return fmt::format("[{}]", fmt::join(ne, ", ")); }

}  // namespace

std::string_view ggml_type_name(GgmlType type) {
  const GgmlTraits* t = find_ggml_type(static_cast<uint32_t>(type));
  return t ? t->name : "?";
}

int64_t ggml_block_elements(GgmlType type) {
  const GgmlTraits* t = find_ggml_type(static_cast<uint32_t>(type));
  return t ? t->block_elements : 0;
}

int64_t ggml_block_bytes(GgmlType type) {
  const GgmlTraits* t = find_ggml_type(static_cast<uint32_t>(type));
  return t ? t->block_bytes : 0;
}

GgufFile GgufFile::open(const std::filesystem::path& path) {
  GgufFile result;
  result.file_ = MappedFile::open(path);
  const uint64_t file_size = result.file_.size();
  Reader r(path.string(), result.file_.data(), file_size);

  // Header.
  constexpr uint64_t kHeaderBytes = 4 + 4 + 8 + 8;
  if (file_size < kHeaderBytes)
    r.fail_at(0, "truncated: the file is {} bytes, shorter than the {}-byte GGUF header", file_size, kHeaderBytes);
  const std::byte* base = result.file_.data();
  if (std::memcmp(base, "GGUF", 4) != 0)
    r.fail_at(0, "bad magic {:02x} {:02x} {:02x} {:02x}, expected \"GGUF\" (47 47 55 46): not a GGUF file",
              static_cast<unsigned>(base[0]), static_cast<unsigned>(base[1]), static_cast<unsigned>(base[2]),
              static_cast<unsigned>(base[3]));
  r.read<uint32_t>("magic");
  const uint32_t version = r.read<uint32_t>("version");
  if (version != 2 && version != 3) {
    const uint32_t swapped = __builtin_bswap32(version);
    if (swapped == 2 || swapped == 3)
      r.fail_at(4, "version {} is not supported: a big-endian GGUF file (version {} byte-swapped)?", version, swapped);
    r.fail_at(4, "version {} is not supported (expected 2 or 3)", version);
  }
  result.version_ = version;
  const uint64_t tensor_count = r.read<uint64_t>("tensor count");
  const uint64_t kv_count = r.read<uint64_t>("metadata key/value count");
  if (tensor_count > kGgufMaxTensors)
    r.fail_at(8, "tensor count {} is past the limit of {} tensors", tensor_count, kGgufMaxTensors);
  if (kv_count > kGgufMaxKeyValues)
    r.fail_at(16, "metadata key/value count {} is past the limit of {} pairs", kv_count, kGgufMaxKeyValues);
  // Smallest encodings: a pair is an 8-byte key length, a 4-byte type and a 1-byte value; a tensor info
  // an 8-byte name length, n_dims, one dimension, the type and the offset.
  constexpr uint64_t kMinPairBytes = 8 + 4 + 1;
  constexpr uint64_t kMinTensorInfoBytes = 8 + 4 + 8 + 4 + 8;
  if (kv_count * kMinPairBytes + tensor_count * kMinTensorInfoBytes > r.left())
    r.fail_at(8,
              "truncated: {} tensors and {} metadata pairs need at least {} bytes after the header, but the "
              "file has {}",
              tensor_count, kv_count, kv_count * kMinPairBytes + tensor_count * kMinTensorInfoBytes, r.left());

  // Metadata.
  for (uint64_t k = 0; k < kv_count; ++k) {
    r.set_section(fmt::format("metadata pair {} of {}", k + 1, kv_count));
    const uint64_t key_at = r.pos();
    std::string key = r.read_string("key");
    r.set_section(fmt::format("metadata '{}'", key));
    if (result.metadata_.find(key) != result.metadata_.end())
      r.fail_at(key_at, "duplicate key '{}' (pair {} of {} repeats an earlier one)", key, k + 1, kv_count);
    const uint64_t type_at = r.pos();
    const uint32_t type_id = r.read<uint32_t>("value type");
    const uint64_t value_at = r.pos();
    GgufValue value = read_value(r, type_at, type_id);
    if (key == "general.alignment") {
      if (value.type != GgufType::u32)
        r.fail_at(value_at, "general.alignment is {}, expected a u32", describe_type(value));
      if (value.u == 0 || !std::has_single_bit(value.u))
        r.fail_at(value_at, "general.alignment {} is not a power of two", value.u);
      result.alignment_ = value.u;
    }
    result.metadata_.emplace(std::move(key), std::move(value));
  }

  // Tensor directory.
  result.tensors_.reserve(static_cast<size_t>(tensor_count));  // bounded above by the cap and the file size
  for (uint64_t k = 0; k < tensor_count; ++k) {
    r.set_section(fmt::format("tensor info {} of {}", k + 1, tensor_count));
    const uint64_t name_at = r.pos();
    GgufTensorInfo info;
    info.name = r.read_string("tensor name");
    r.set_section(fmt::format("tensor info '{}'", info.name));
    if (auto first = result.tensor_index_.find(info.name); first != result.tensor_index_.end())
      r.fail_at(name_at, "duplicate tensor name '{}' (tensor {} of {} repeats tensor {})", info.name, k + 1,
                tensor_count, first->second + 1);
    const uint64_t dims_at = r.pos();
    const uint32_t n_dims = r.read<uint32_t>("dimension count");
    if (n_dims == 0 || n_dims > kGgufMaxDims)
      r.fail_at(dims_at, "tensor '{}' has {} dimensions, expected 1 to {}", info.name, n_dims, kGgufMaxDims);
    int64_t numel = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      const uint64_t dim_at = r.pos();
      const auto dim = static_cast<int64_t>(r.read<uint64_t>("dimension"));
      if (dim < 1) r.fail_at(dim_at, "tensor '{}' dimension {} is {}, expected at least 1", info.name, d, dim);
      info.ne.push_back(dim);
      if (__builtin_mul_overflow(numel, dim, &numel))
        r.fail_at(dims_at, "tensor '{}' dimensions {}... overflow: the element count does not fit in 63 bits",
                  info.name, ne_text(info.ne));
    }
    info.shape.assign(info.ne.rbegin(), info.ne.rend());
    const uint64_t type_at = r.pos();
    const uint32_t type_id = r.read<uint32_t>("ggml type");
    const GgmlTraits* traits = find_ggml_type(type_id);
    if (!traits) r.fail_at(type_at, "tensor '{}' has unknown ggml type {}", info.name, type_id);
    info.type = traits->type;
    if (info.ne[0] % traits->block_elements != 0)
      r.fail_at(dims_at, "tensor '{}' of type {} has ne[0] = {}, not a multiple of its {}-element block", info.name,
                traits->name, info.ne[0], traits->block_elements);
    int64_t bytes = info.ne[0] / traits->block_elements;
    bool overflow = __builtin_mul_overflow(bytes, traits->block_bytes, &bytes);
    for (size_t d = 1; d < info.ne.size(); ++d) overflow = overflow || __builtin_mul_overflow(bytes, info.ne[d], &bytes);
    if (overflow)
      r.fail_at(dims_at, "tensor '{}' {} {} overflows: its byte size does not fit in 63 bits", info.name,
                traits->name, ne_text(info.ne));
    info.bytes = static_cast<uint64_t>(bytes);
    const uint64_t offset_at = r.pos();
    info.offset = r.read<uint64_t>("tensor data offset");
    if (info.offset % result.alignment_ != 0)
      r.fail_at(offset_at, "tensor '{}' offset {} is not a multiple of the alignment {}", info.name, info.offset,
                result.alignment_);
    // Views need their elements aligned; the mapping is page aligned, so the file's alignment decides.
    if (traits->dtype && result.alignment_ < dtype_size(*traits->dtype))
      r.fail_at(offset_at,
                "tensor '{}' is {} ({}-byte elements) but general.alignment {} is smaller, so its view could be "
                "misaligned; refusing the file",
                info.name, traits->name, dtype_size(*traits->dtype), result.alignment_);
    result.tensor_index_.emplace(info.name, result.tensors_.size());
    result.tensors_.push_back(std::move(info));
  }

  // Data section: after the directory, padded to the alignment. Trailing bytes past the last tensor are
  // allowed (llama.cpp's writer pads the end too).
  r.set_section("data section");
  const uint64_t directory_end = r.pos();
  const uint64_t data_start = (directory_end + result.alignment_ - 1) / result.alignment_ * result.alignment_;
  const uint64_t data_size = data_start <= file_size ? file_size - data_start : 0;
  if (data_start <= file_size) result.data_ = base + data_start;
  std::vector<const GgufTensorInfo*> by_offset;
  by_offset.reserve(result.tensors_.size());
  for (const GgufTensorInfo& info : result.tensors_) {
    if (info.offset > data_size || info.bytes > data_size - info.offset)
      r.fail_at(data_start,
                "truncated: tensor '{}' ({} {}, {} bytes at offset {}) runs past the end of the data section ({})",
                info.name, ggml_type_name(info.type), ne_text(info.ne), info.bytes, info.offset,
                data_start <= file_size
                    ? fmt::format("{} bytes from byte {} of the {}-byte file", data_size, data_start, file_size)
                    : fmt::format("the {}-byte file ends before it starts", file_size));
    by_offset.push_back(&info);
  }
  std::sort(by_offset.begin(), by_offset.end(),
            [](const GgufTensorInfo* a, const GgufTensorInfo* b) { return a->offset < b->offset; });
  for (size_t k = 1; k < by_offset.size(); ++k) {
    const GgufTensorInfo& previous = *by_offset[k - 1];
    const GgufTensorInfo& current = *by_offset[k];
    if (current.offset < previous.offset + previous.bytes)
      r.fail_at(data_start + current.offset, "tensor '{}' at offset {} overlaps tensor '{}' (bytes [{}, {}))",
                current.name, current.offset, previous.name, previous.offset, previous.offset + previous.bytes);
  }
  return result;
}

// ---- Metadata ----

const GgufValue* GgufFile::find(std::string_view key) const {
  auto it = metadata_.find(key);
  return it == metadata_.end() ? nullptr : &it->second;
}

namespace {

[[noreturn]] void fail_absent(const std::filesystem::path& path, std::string_view key, std::string_view expected) {
  fail("{}: metadata key '{}' is absent (expected {})", path.string(), key, expected);
}

[[noreturn]] void fail_type(const std::filesystem::path& path, std::string_view key, const GgufValue& value,
                            std::string_view expected) {
  fail("{}: metadata key '{}' is {}, expected {}", path.string(), key, describe_type(value), expected);
}

constexpr std::string_view kIntExpected = "an integer";
constexpr std::string_view kFloatExpected = "a number (f32, f64 or an integer)";

}  // namespace

std::optional<std::string> GgufFile::get_string_or(std::string_view key) const {
  const GgufValue* v = find(key);
  if (!v) return std::nullopt;
  if (v->type != GgufType::string) fail_type(path(), key, *v, "a string");
  return v->s;
}

std::string GgufFile::get_string(std::string_view key) const {
  auto v = get_string_or(key);
  if (!v) fail_absent(path(), key, "a string");
  return std::move(*v);
}

std::optional<int64_t> GgufFile::get_int_or(std::string_view key) const {
  const GgufValue* v = find(key);
  if (!v) return std::nullopt;
  if (is_signed(v->type)) return v->i;
  if (!is_unsigned(v->type)) fail_type(path(), key, *v, kIntExpected);
  if (v->u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
    fail("{}: metadata key '{}' is u64 {}, which does not fit in int64", path().string(), key, v->u);
  return static_cast<int64_t>(v->u);
}

int64_t GgufFile::get_int(std::string_view key) const {
  auto v = get_int_or(key);
  if (!v) fail_absent(path(), key, kIntExpected);
  return *v;
}

std::optional<double> GgufFile::get_float_or(std::string_view key) const {
  const GgufValue* v = find(key);
  if (!v) return std::nullopt;
  if (is_float(v->type)) return v->f;
  if (is_signed(v->type)) return static_cast<double>(v->i);
  if (is_unsigned(v->type)) return static_cast<double>(v->u);
  fail_type(path(), key, *v, kFloatExpected);
}

double GgufFile::get_float(std::string_view key) const {
  auto v = get_float_or(key);
  if (!v) fail_absent(path(), key, kFloatExpected);
  return *v;
}

std::optional<bool> GgufFile::get_bool_or(std::string_view key) const {
  const GgufValue* v = find(key);
  if (!v) return std::nullopt;
  if (v->type != GgufType::boolean) fail_type(path(), key, *v, "a bool");
  return v->b;
}

bool GgufFile::get_bool(std::string_view key) const {
  auto v = get_bool_or(key);
  if (!v) fail_absent(path(), key, "a bool");
  return *v;
}

std::vector<int64_t> GgufFile::get_int_array(std::string_view key) const {
  constexpr std::string_view expected = "an array of integers";
  const GgufValue* v = find(key);
  if (!v) fail_absent(path(), key, expected);
  if (v->type != GgufType::array) fail_type(path(), key, *v, expected);
  if (is_signed(v->element_type)) return std::get<std::vector<int64_t>>(v->array);
  if (!is_unsigned(v->element_type)) fail_type(path(), key, *v, expected);
  const auto& values = std::get<std::vector<uint64_t>>(v->array);
  std::vector<int64_t> out;
  out.reserve(values.size());
  for (size_t k = 0; k < values.size(); ++k) {
    if (values[k] > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      fail("{}: metadata key '{}' element {} is u64 {}, which does not fit in int64", path().string(), key, k,
           values[k]);
    out.push_back(static_cast<int64_t>(values[k]));
  }
  return out;
}

std::vector<double> GgufFile::get_float_array(std::string_view key) const {
  constexpr std::string_view expected = "an array of numbers (f32, f64 or integers)";
  const GgufValue* v = find(key);
  if (!v) fail_absent(path(), key, expected);
  if (v->type != GgufType::array) fail_type(path(), key, *v, expected);
  if (is_float(v->element_type)) return std::get<std::vector<double>>(v->array);
  if (is_signed(v->element_type)) {
    const auto& values = std::get<std::vector<int64_t>>(v->array);
    return std::vector<double>(values.begin(), values.end());
  }
  if (is_unsigned(v->element_type)) {
    const auto& values = std::get<std::vector<uint64_t>>(v->array);
    return std::vector<double>(values.begin(), values.end());
  }
  fail_type(path(), key, *v, expected);
}

const std::vector<std::string>& GgufFile::get_string_array(std::string_view key) const {
  constexpr std::string_view expected = "an array of strings";
  const GgufValue* v = find(key);
  if (!v) fail_absent(path(), key, expected);
  if (v->type != GgufType::array || v->element_type != GgufType::string) fail_type(path(), key, *v, expected);
  return std::get<std::vector<std::string>>(v->array);
}

// ---- Tensors ----

bool GgufFile::has(std::string_view name) const { return tensor_index_.find(name) != tensor_index_.end(); }

const GgufTensorInfo& GgufFile::info(std::string_view name) const {
  auto it = tensor_index_.find(name);
  if (it == tensor_index_.end()) fail("{}: no tensor named '{}'", path().string(), name);
  return tensors_[it->second];
}

std::span<const std::byte> GgufFile::bytes(std::string_view name) const {
  const GgufTensorInfo& i = info(name);
  return {data_ + i.offset, static_cast<size_t>(i.bytes)};
}

Tensor GgufFile::get(std::string_view name) const {
  const GgufTensorInfo& i = info(name);
  const GgmlTraits* traits = find_ggml_type(static_cast<uint32_t>(i.type));
  if (!traits || !traits->dtype)
    fail("{}: tensor '{}' has type {}, which get() cannot view (F32, F16 and BF16 only; bytes() gives the raw "
         "blocks)",
         path().string(), name, ggml_type_name(i.type));
  Tensor t;
  t.data = const_cast<std::byte*>(data_ + i.offset);  // Tensor has no const view; the mapping is read-only
  t.dtype = *traits->dtype;
  t.device = Device::cpu;
  t.ndim = static_cast<int>(i.shape.size());  // ≤ kGgufMaxDims ≤ kMaxDims
  int64_t stride = 1;
  for (int d = t.ndim - 1; d >= 0; --d) {
    const auto k = static_cast<size_t>(d);
    t.shape[k] = i.shape[k];
    t.strides[k] = stride;
    stride *= t.shape[k];
  }
  return t;
}

// ---- Detection ----

bool is_gguf_file(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec) || ec) return false;
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  char magic[4] = {};
  in.read(magic, 4);
  return in.gcount() == 4 && std::memcmp(magic, "GGUF", 4) == 0;
}

}  // namespace strata::io
