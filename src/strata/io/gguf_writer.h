// GgufWriter: builds a GGUF file (version 3, little-endian, the layout gguf.h reads) — metadata first,
// then tensors in the order added, each tensor's data aligned to `general.alignment` (32). The file is
// written to PATH.tmp and renamed over PATH when complete, so a failed write never leaves a partial model.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "strata/io/gguf.h"

namespace strata::io {

class GgufWriter {
 public:
  void add_u32(const std::string& key, uint32_t value);
  void add_i32(const std::string& key, int32_t value);
  void add_u64(const std::string& key, uint64_t value);
  void add_f32(const std::string& key, float value);
  void add_bool(const std::string& key, bool value);
  void add_string(const std::string& key, const std::string& value);
  void add_i32_array(const std::string& key, const std::vector<int32_t>& values);
  void add_string_array(const std::string& key, const std::vector<std::string>& values);

  // One tensor: its ggml type, ggml dims (ne[0] fastest) and exactly its bytes (checked against them).
  void add_tensor(const std::string& name, GgmlType type, std::vector<int64_t> ne, std::vector<std::byte> data);

  // Writes the file. Throws strata::Error naming the path on a write error or a duplicate name.
  void write(const std::filesystem::path& path) const;

 private:
  struct TensorEntry {
    std::string name;
    GgmlType type;
    std::vector<int64_t> ne;
    std::vector<std::byte> data;
  };
  std::vector<std::byte> metadata_;  // the encoded key/value pairs
  uint64_t kv_count_ = 0;
  std::vector<std::string> keys_;
  std::vector<TensorEntry> tensors_;
};

}  // namespace strata::io
