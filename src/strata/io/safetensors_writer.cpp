#include "strata/io/safetensors_writer.h"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>
#include <system_error>
#include <vector>

#include "strata/core/error.h"
#include "strata/io/safetensors.h"

namespace strata::io {

namespace {

// Gathers a strided view into contiguous bytes, walking the index space in row-major order.
std::vector<std::byte> gather(const Tensor& t) {
  const size_t element = dtype_size(t.dtype);
  std::vector<std::byte> out(t.nbytes());
  std::array<int64_t, kMaxDims> index{};
  const auto* base = static_cast<const std::byte*>(t.data);
  for (int64_t n = 0, total = t.numel(); n < total; ++n) {
    int64_t offset = 0;
    for (int d = 0; d < t.ndim; ++d)
      offset += index[static_cast<size_t>(d)] * t.strides[static_cast<size_t>(d)];
    std::memcpy(out.data() + static_cast<size_t>(n) * element, base + offset * static_cast<int64_t>(element),
                element);
    for (int d = t.ndim - 1; d >= 0; --d) {
      if (++index[static_cast<size_t>(d)] < t.shape[static_cast<size_t>(d)]) break;
      index[static_cast<size_t>(d)] = 0;
    }
  }
  return out;
}

// Removes the temporary on every failure path; release() once it has been renamed into place.
struct TemporaryFile {
  std::filesystem::path path;
  std::FILE* stream = nullptr;
  bool keep = false;
  ~TemporaryFile() {
    if (stream) std::fclose(stream);
    if (!keep) {
      std::error_code ignored;
      std::filesystem::remove(path, ignored);
    }
  }
};

}  // namespace

void write_safetensors(const std::filesystem::path& path, const std::map<std::string, Tensor>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  const std::string file = path.string();
  std::vector<const std::pair<const std::string, Tensor>*> order;
  for (const auto& item : tensors) {
    const auto& [name, t] = item;
    if (name == "__metadata__") fail("{}: '__metadata__' is reserved and cannot name a tensor", file);
    if (t.device != Device::cpu) fail("{}: tensor '{}' is not in host memory", file, name);
    if (t.ndim < 0 || t.ndim > kMaxDims) fail("{}: tensor '{}' has rank {}", file, name, t.ndim);
    for (int d = 0; d < t.ndim; ++d)
      if (t.shape[static_cast<size_t>(d)] < 0)
        fail("{}: tensor '{}' {} has a negative dimension", file, name, t.describe());
    if (t.numel() > 0 && !t.data) fail("{}: tensor '{}' {} has no data", file, name, t.describe());
    order.push_back(&item);
  }
  // Largest elements first keeps every tensor aligned to its element size (the sizes are powers of two).
  std::stable_sort(order.begin(), order.end(), [](const auto* a, const auto* b) {
    return dtype_size(a->second.dtype) > dtype_size(b->second.dtype);
  });

  // ordered_json keeps the reference writer's layout: "__metadata__" first, then entries in data order,
  // fields as dtype, shape, data_offsets; so our files diff cleanly against Hugging Face's.
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (const auto* item : order) {
    const Tensor& t = item->second;
    nlohmann::ordered_json entry = nlohmann::ordered_json::object();
    entry["dtype"] = std::string(safetensors_dtype_name(t.dtype));
    entry["shape"] = std::vector<int64_t>(t.shape.begin(), t.shape.begin() + t.ndim);
    entry["data_offsets"] = {offset, offset + t.nbytes()};
    header[item->first] = std::move(entry);
    offset += t.nbytes();
  }
  std::string header_text = header.dump();
  header_text.append((8 - header_text.size() % 8) % 8, ' ');

  // An existing path that is not a regular file (/dev/null, /dev/full, a pipe) is written through: renaming
  // a temporary over it would replace the device node with a file.
  std::error_code status_error;
  const std::filesystem::file_status status = std::filesystem::status(path, status_error);
  if (std::filesystem::is_directory(status)) fail("{}: is a directory; expected a file to write", file);
  const bool write_through = std::filesystem::exists(status) && !std::filesystem::is_regular_file(status);
  TemporaryFile temporary;
  temporary.path = path;
  if (write_through) {
    temporary.keep = true;
  } else {
    temporary.path += fmt::format(".tmp.{}", ::getpid());
  }
  temporary.stream = std::fopen(temporary.path.c_str(), "wb");
  if (!temporary.stream)
    fail("{}: cannot create {}: {}", file, temporary.path.string(), std::strerror(errno));
  auto write = [&](const void* bytes, size_t n) {
    if (n != 0 && std::fwrite(bytes, 1, n, temporary.stream) != n)
      fail("{}: write to {} failed: {}", file, temporary.path.string(), std::strerror(errno));
  };
  std::array<unsigned char, 8> length{};
  for (size_t i = 0; i < 8; ++i) length[i] = static_cast<unsigned char>(header_text.size() >> (8 * i));
  write(length.data(), length.size());
  write(header_text.data(), header_text.size());
  for (const auto* item : order) {
    const Tensor& t = item->second;
    if (t.is_contiguous()) {
      write(t.data, t.nbytes());
    } else {
      const std::vector<std::byte> bytes = gather(t);
      write(bytes.data(), bytes.size());
    }
  }
  const int closed = std::fclose(temporary.stream);
  temporary.stream = nullptr;
  if (closed != 0) fail("{}: closing {} failed: {}", file, temporary.path.string(), std::strerror(errno));
  if (write_through) return;
  std::error_code error;
  std::filesystem::rename(temporary.path, path, error);
  if (error) fail("{}: cannot rename {} into place: {}", file, temporary.path.string(), error.message());
  temporary.keep = true;
}

}  // namespace strata::io
