// MappedFile: a whole file mapped read-only into memory (POSIX mmap), owned and unmapped on destruction.
// The mapping base is page aligned; the bytes stay valid while the MappedFile lives (moving keeps them).
// Truncating the file on disk while it is mapped is outside our control (the OS raises SIGBUS).
#pragma once

#include <cstddef>
#include <filesystem>

namespace strata::io {

class MappedFile {
 public:
  // Throws strata::Error naming the path if it cannot be opened, is not a regular file, or cannot be
  // mapped. An empty file is valid and maps to data() == nullptr, size() == 0.
  static MappedFile open(const std::filesystem::path& path);

  MappedFile() = default;
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();

  const std::byte* data() const { return data_; }
  size_t size() const { return size_; }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
  const std::byte* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace strata::io
