#include "strata/io/gguf_writer.h"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <set>

#include "strata/core/error.h"

namespace strata::io {

namespace {

constexpr uint64_t kAlignment = 32;

template <typename T>
void put(std::vector<std::byte>& out, T value) {
  const auto* p = reinterpret_cast<const std::byte*>(&value);
  out.insert(out.end(), p, p + sizeof(T));
}

void put_string(std::vector<std::byte>& out, const std::string& s) {
  put<uint64_t>(out, s.size());
  const auto* p = reinterpret_cast<const std::byte*>(s.data());
  out.insert(out.end(), p, p + s.size());
}

}  // namespace

#define STRATA_GGUF_KEY(key, type)                                                     \
  do {                                                                                  \
    if (std::find(keys_.begin(), keys_.end(), key) != keys_.end())                     \
      fail("GGUF writer: metadata key '{}' added twice", key);                          \
    keys_.push_back(key);                                                               \
    ++kv_count_;                                                                        \
    put_string(metadata_, key);                                                         \
    put<uint32_t>(metadata_, static_cast<uint32_t>(type));                              \
  } while (false)

void GgufWriter::add_u32(const std::string& key, uint32_t value) {
  STRATA_GGUF_KEY(key, GgufType::u32);
  put(metadata_, value);
}
void GgufWriter::add_i32(const std::string& key, int32_t value) {
  STRATA_GGUF_KEY(key, GgufType::i32);
  put(metadata_, value);
}
void GgufWriter::add_u64(const std::string& key, uint64_t value) {
  STRATA_GGUF_KEY(key, GgufType::u64);
  put(metadata_, value);
}
void GgufWriter::add_f32(const std::string& key, float value) {
  STRATA_GGUF_KEY(key, GgufType::f32);
  put(metadata_, value);
}
void GgufWriter::add_bool(const std::string& key, bool value) {
  STRATA_GGUF_KEY(key, GgufType::boolean);
  put<uint8_t>(metadata_, value ? 1 : 0);
}
void GgufWriter::add_string(const std::string& key, const std::string& value) {
  STRATA_GGUF_KEY(key, GgufType::string);
  put_string(metadata_, value);
}
void GgufWriter::add_i32_array(const std::string& key, const std::vector<int32_t>& values) {
  STRATA_GGUF_KEY(key, GgufType::array);
  put<uint32_t>(metadata_, static_cast<uint32_t>(GgufType::i32));
  put<uint64_t>(metadata_, values.size());
  for (int32_t v : values) put(metadata_, v);
}
void GgufWriter::add_string_array(const std::string& key, const std::vector<std::string>& values) {
  STRATA_GGUF_KEY(key, GgufType::array);
  put<uint32_t>(metadata_, static_cast<uint32_t>(GgufType::string));
  put<uint64_t>(metadata_, values.size());
  for (const std::string& v : values) put_string(metadata_, v);
}

#undef STRATA_GGUF_KEY

void GgufWriter::add_tensor(const std::string& name, GgmlType type, std::vector<int64_t> ne,
                            std::vector<std::byte> data) {
  if (ne.empty() || ne.size() > kGgufMaxDims) fail("GGUF writer: tensor '{}' has {} dimensions", name, ne.size());
  const int64_t block = ggml_block_elements(type);
  if (block == 0 || ne[0] % block != 0)
    fail("GGUF writer: tensor '{}': ne[0] = {} is not a multiple of the {} block ({})", name, ne[0],
         ggml_type_name(type), block);
  uint64_t bytes = static_cast<uint64_t>(ne[0] / block) * static_cast<uint64_t>(ggml_block_bytes(type));
  for (size_t d = 1; d < ne.size(); ++d) bytes *= static_cast<uint64_t>(ne[d]);
  if (bytes != data.size())
    fail("GGUF writer: tensor '{}' has {} bytes; its {} shape needs {}", name, data.size(), ggml_type_name(type), bytes);
  for (const TensorEntry& t : tensors_)
    if (t.name == name) fail("GGUF writer: tensor '{}' added twice", name);
  tensors_.push_back({name, type, std::move(ne), std::move(data)});
}

void GgufWriter::write(const std::filesystem::path& path) const {
  std::vector<std::byte> head;
  head.insert(head.end(), {std::byte{'G'}, std::byte{'G'}, std::byte{'U'}, std::byte{'F'}});
  put<uint32_t>(head, 3);
  put<uint64_t>(head, tensors_.size());
  put<uint64_t>(head, kv_count_);
  head.insert(head.end(), metadata_.begin(), metadata_.end());
  uint64_t offset = 0;
  std::vector<uint64_t> offsets;
  for (const TensorEntry& t : tensors_) {
    put_string(head, t.name);
    put<uint32_t>(head, static_cast<uint32_t>(t.ne.size()));
    for (int64_t n : t.ne) put<uint64_t>(head, static_cast<uint64_t>(n));
    put<uint32_t>(head, static_cast<uint32_t>(t.type));
    put<uint64_t>(head, offset);
    offsets.push_back(offset);
    offset += (t.data.size() + kAlignment - 1) / kAlignment * kAlignment;
  }
  head.resize((head.size() + kAlignment - 1) / kAlignment * kAlignment, std::byte{0});

  std::error_code status_error;
  const auto status = std::filesystem::status(path, status_error);
  if (std::filesystem::exists(status) && !std::filesystem::is_regular_file(status))
    fail("'{}' exists and is not a regular file; give a file path for the GGUF", path.string());
  const std::filesystem::path temporary = path.string() + ".tmp";
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    if (!out) fail("cannot write '{}'", temporary.string());
    out.write(reinterpret_cast<const char*>(head.data()), static_cast<std::streamsize>(head.size()));
    const std::vector<char> zeros(kAlignment, 0);
    for (const TensorEntry& t : tensors_) {
      out.write(reinterpret_cast<const char*>(t.data.data()), static_cast<std::streamsize>(t.data.size()));
      const size_t pad = (kAlignment - t.data.size() % kAlignment) % kAlignment;
      out.write(zeros.data(), static_cast<std::streamsize>(pad));
    }
    out.flush();
    if (!out) {
      std::error_code ec;
      std::filesystem::remove(temporary, ec);
      fail("writing '{}' failed (disk full?)", path.string());
    }
  }
  std::error_code ec;
  std::filesystem::rename(temporary, path, ec);
  if (ec) fail("cannot move '{}' to '{}': {}", temporary.string(), path.string(), ec.message());
}

}  // namespace strata::io
