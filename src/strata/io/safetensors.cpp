#include "strata/io/safetensors.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <nlohmann/json.hpp>
#include <set>

#include "strata/core/error.h"
#include "strata/io/json_depth.h"

namespace strata::io {

namespace {

using nlohmann::json;

// Every dtype the reference implementation knows, with its width in bits: we validate the layout of
// all of them, so a checkpoint carrying one F64 tensor still opens; only get() on that tensor refuses.
struct KnownDtype {
  std::string_view name;
  uint64_t bits;
  std::optional<DType> dtype;
};
constexpr std::array<KnownDtype, 22> kKnownDtypes{{
    {"BOOL", 8, DType::boolean},
    {"U8", 8, DType::u8},
    {"I8", 8, DType::i8},
    {"I16", 16, DType::i16},
    {"I32", 32, DType::i32},
    {"I64", 64, DType::i64},
    {"F16", 16, DType::f16},
    {"BF16", 16, DType::bf16},
    {"F32", 32, DType::f32},
    {"F4", 4, std::nullopt},
    {"F6_E2M3", 6, std::nullopt},
    {"F6_E3M2", 6, std::nullopt},
    {"F8_E5M2", 8, std::nullopt},
    {"F8_E4M3", 8, std::nullopt},
    {"F8_E8M0", 8, std::nullopt},
    {"F8_E4M3FNUZ", 8, std::nullopt},
    {"F8_E5M2FNUZ", 8, std::nullopt},
    {"U16", 16, std::nullopt},
    {"U32", 32, std::nullopt},
    {"U64", 64, std::nullopt},
    {"F64", 64, std::nullopt},
    {"C64", 64, std::nullopt},
}};

const KnownDtype* find_dtype(std::string_view name) {
  for (const KnownDtype& d : kKnownDtypes)
    if (d.name == name) return &d;
  return nullptr;
}

// A parse callback that rejects duplicate keys: nlohmann keeps the last silently, but a checkpoint with
// two entries for one tensor name is ambiguous, and the reference rejects it.
struct DuplicateKeyCheck {
  std::vector<std::set<std::string>> open_objects;
  std::optional<std::string> duplicate;

  bool operator()(int /*depth*/, json::parse_event_t event, json& parsed) {
    switch (event) {
      case json::parse_event_t::object_start:
        open_objects.emplace_back();
        break;
      case json::parse_event_t::object_end:
        open_objects.pop_back();
        break;
      case json::parse_event_t::key:
        if (!open_objects.back().insert(parsed.get<std::string>()).second && !duplicate)
          duplicate = parsed.get<std::string>();
        break;
      default:
        break;
    }
    return true;
  }
};

uint64_t read_u64_le(const std::byte* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<uint64_t>(p[i]);
  return v;
}

std::string describe_json(const json& value) {
  std::string text = value.dump();
  if (text.size() > 60) text = text.substr(0, 57) + "...";
  return text;
}

// One tensor's header entry, checked against the data section; `where` ("file: tensor 'name'") starts
// every message.
SafetensorsTensorInfo parse_entry(const std::string& where, const json& value, uint64_t data_size) {
  if (!value.is_object())
    fail("{} is {}, expected an object with dtype, shape and data_offsets", where, describe_json(value));
  auto field = [&](const char* key) -> const json& {
    auto it = value.find(key);
    if (it == value.end()) fail("{} is missing \"{}\"", where, key);
    return *it;
  };
  const json& dtype_json = field("dtype");
  const json& shape_json = field("shape");
  const json& offsets_json = field("data_offsets");

  SafetensorsTensorInfo info;
  if (!dtype_json.is_string())
    fail("{} dtype is {}, expected a string such as \"BF16\"", where, describe_json(dtype_json));
  info.dtype_name = dtype_json.get<std::string>();
  const KnownDtype* known = find_dtype(info.dtype_name);
  if (!known) fail("{} has unknown dtype \"{}\"", where, info.dtype_name);
  info.dtype = known->dtype;

  if (!shape_json.is_array())
    fail("{} shape is {}, expected a list of non-negative integers", where, describe_json(shape_json));
  // Overflow-safe element count: a hostile shape must not wrap around to a size that fits. The product of
  // the non-zero dimensions must fit too, or the strides of an empty tensor such as [0, 2^40, 2^40] would.
  uint64_t numel = 1;
  uint64_t nonzero_product = 1;
  bool overflow = false;
  for (const json& dim : shape_json) {
    if (!dim.is_number_unsigned())
      fail("{} shape {} has a dimension that is not a non-negative integer", where,
           describe_json(shape_json));
    const uint64_t d = dim.get<uint64_t>();
    if (d > static_cast<uint64_t>(INT64_MAX))
      fail("{} shape {} has an absurd dimension", where, describe_json(shape_json));
    info.shape.push_back(static_cast<int64_t>(d));
    overflow = overflow || __builtin_mul_overflow(numel, d, &numel) ||
               __builtin_mul_overflow(nonzero_product, std::max<uint64_t>(d, 1), &nonzero_product) ||
               nonzero_product > static_cast<uint64_t>(INT64_MAX);
  }
  uint64_t bits = 0;
  if (overflow || __builtin_mul_overflow(numel, known->bits, &bits) ||
      numel > static_cast<uint64_t>(INT64_MAX))
    fail("{} shape {} overflows: its byte size does not fit in 64 bits", where, describe_json(shape_json));
  if (bits % 8 != 0)
    fail("{} shape {} of {} is not a whole number of bytes", where, describe_json(shape_json),
         info.dtype_name);
  const uint64_t nbytes = bits / 8;

  if (!offsets_json.is_array() || offsets_json.size() != 2 || !offsets_json[0].is_number_unsigned() ||
      !offsets_json[1].is_number_unsigned())
    fail("{} data_offsets is {}, expected [begin, end] as two non-negative integers", where,
         describe_json(offsets_json));
  info.data_begin = offsets_json[0].get<uint64_t>();
  info.data_end = offsets_json[1].get<uint64_t>();
  if (info.data_begin > info.data_end)
    fail("{} data_offsets [{}, {}] end before they begin", where, info.data_begin, info.data_end);
  if (info.data_end > data_size)
    fail("{} data_offsets [{}, {}] exceed the data section ({} bytes)", where, info.data_begin, info.data_end,
         data_size);
  if (info.data_end - info.data_begin != nbytes)
    fail("{} data_offsets [{}, {}] span {} bytes, but {} {} needs {}", where, info.data_begin, info.data_end,
         info.data_end - info.data_begin, info.dtype_name, describe_json(shape_json), nbytes);
  return info;
}

}  // namespace

std::string_view safetensors_dtype_name(DType dtype) {
  for (const KnownDtype& d : kKnownDtypes)
    if (d.dtype == dtype) return d.name;
  return "?";
}

std::optional<DType> dtype_from_safetensors(std::string_view name) {
  const KnownDtype* known = find_dtype(name);
  return known ? known->dtype : std::nullopt;
}

SafetensorsFile SafetensorsFile::open(const std::filesystem::path& path) {
  SafetensorsFile result;
  result.file_ = MappedFile::open(path);
  const std::string file = path.string();
  const std::byte* base = result.file_.data();
  const uint64_t file_size = result.file_.size();

  if (file_size == 0)
    fail("{}: file is empty, expected a safetensors file (8-byte header length, JSON header, data)", file);
  if (file_size < 8) fail("{}: file is {} bytes, too short for the 8-byte header length", file, file_size);
  const uint64_t header_size = read_u64_le(base);
  if (header_size > kSafetensorsMaxHeaderBytes)
    fail("{}: header length {} exceeds the {}-byte limit (not a safetensors file?)", file, header_size,
         kSafetensorsMaxHeaderBytes);
  if (header_size > file_size - 8)
    fail("{}: header length {} exceeds the file ({} bytes after the length field): truncated?", file,
         header_size, file_size - 8);
  const char* header = reinterpret_cast<const char*>(base + 8);
  if (header_size == 0 || header[0] != '{')
    fail("{}: header does not start with '{{': not a safetensors file", file);

  // describe_json dumps values recursively: bound the header's depth before parsing it.
  if (const auto at = find_excess_json_depth(std::string_view(header, header_size)))
    fail("{}: header nests JSON arrays and objects more than {} levels deep (line {}, column {} of the header); "
         "refusing it", file, kMaxJsonDepth, at->line, at->column);
  DuplicateKeyCheck duplicates;
  json root;
  try {
    root = json::parse(header, header + header_size, std::ref(duplicates));
  } catch (const json::exception& e) {
    fail("{}: header is not valid JSON: {}", file, e.what());
  }
  if (duplicates.duplicate) fail("{}: header has the key '{}' twice", file, *duplicates.duplicate);
  if (!root.is_object()) fail("{}: header is not a JSON object", file);

  const uint64_t data_size = file_size - 8 - header_size;
  const std::byte* data = base + 8 + header_size;
  for (const auto& [name, value] : root.items()) {
    if (name == "__metadata__") {
      if (!value.is_object())
        fail("{}: __metadata__ is {}, expected an object of strings", file, describe_json(value));
      for (const auto& [key, text] : value.items()) {
        if (!text.is_string())
          fail("{}: __metadata__ '{}' is {}, expected a string", file, key, describe_json(text));
        result.metadata_.emplace(key, text.get<std::string>());
      }
      continue;
    }
    Entry entry;
    entry.info = parse_entry(fmt::format("{}: tensor '{}'", file, name), value, data_size);
    entry.bytes = data + entry.info.data_begin;
    result.entries_.emplace(name, std::move(entry));
  }

  // The format requires the tensors to tile the data section exactly: no overlaps, no holes, no tail.
  std::vector<std::pair<const std::string*, const SafetensorsTensorInfo*>> by_offset;
  for (const auto& [name, entry] : result.entries_) by_offset.emplace_back(&name, &entry.info);
  std::sort(by_offset.begin(), by_offset.end(), [](const auto& a, const auto& b) {
    return std::tie(a.second->data_begin, a.second->data_end) <
           std::tie(b.second->data_begin, b.second->data_end);
  });
  uint64_t covered = 0;
  const std::string* previous = nullptr;
  for (const auto& [name, info] : by_offset) {
    if (info->data_begin < covered)
      fail("{}: tensor '{}' data_offsets [{}, {}] overlap tensor '{}' (which ends at {})", file, *name,
           info->data_begin, info->data_end, *previous, covered);
    if (info->data_begin > covered)
      fail("{}: data section has a gap of {} bytes at [{}, {}) before tensor '{}'", file,
           info->data_begin - covered, covered, info->data_begin, *name);
    covered = info->data_end;
    previous = name;
  }
  if (covered != data_size)
    fail("{}: data section is {} bytes but the tensors cover only {}: trailing bytes or a wrong header", file,
         data_size, covered);

  for (auto& [name, entry] : result.entries_) {
    result.names_.push_back(name);
    if (!entry.info.dtype) continue;
    const size_t align = dtype_size(*entry.info.dtype);
    if (reinterpret_cast<uintptr_t>(entry.bytes) % align == 0) continue;
    const size_t nbytes = entry.info.data_end - entry.info.data_begin;
    Buffer copy(nbytes);
    std::memcpy(copy.data(), entry.bytes, nbytes);
    entry.bytes = static_cast<const std::byte*>(copy.data());
    entry.info.copied = true;
    result.copies_.push_back(std::move(copy));
  }
  return result;
}

bool SafetensorsFile::has(std::string_view name) const { return entries_.find(name) != entries_.end(); }

const SafetensorsFile::Entry& SafetensorsFile::entry(std::string_view name) const {
  auto it = entries_.find(name);
  if (it == entries_.end()) fail("{}: no tensor named '{}'", path().string(), name);
  return it->second;
}

const SafetensorsTensorInfo& SafetensorsFile::info(std::string_view name) const { return entry(name).info; }

Tensor SafetensorsFile::get(std::string_view name) const {
  const Entry& e = entry(name);
  if (!e.info.dtype)
    fail(
        "{}: tensor '{}' has dtype {}, which strata does not support (supported: F32, F16, BF16, I64, I32, "
        "I16, I8, U8, BOOL)",
        path().string(), name, e.info.dtype_name);
  if (e.info.shape.size() > static_cast<size_t>(kMaxDims))
    fail("{}: tensor '{}' has rank {}, more than strata's maximum of {}", path().string(), name,
         e.info.shape.size(), kMaxDims);
  Tensor t;
  t.data = const_cast<std::byte*>(e.bytes);  // Tensor has no const view; the mapping itself is read-only
  t.dtype = *e.info.dtype;
  t.ndim = static_cast<int>(e.info.shape.size());
  int64_t stride = 1;
  for (int d = t.ndim - 1; d >= 0; --d) {
    const auto i = static_cast<size_t>(d);
    t.shape[i] = e.info.shape[i];
    t.strides[i] = stride;
    stride *= t.shape[i];  // as Tensor::contiguous does, so is_contiguous() holds for empty tensors too
  }
  return t;
}

}  // namespace strata::io
