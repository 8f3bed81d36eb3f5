// SafetensorsModel: every weight of a Hugging Face checkpoint directory, by name, whether it ships one
// model.safetensors or shards listed in model.safetensors.index.json ("weight_map": name -> shard file).
// All files are mapped and validated at open(); views stay valid while the SafetensorsModel lives.
#pragma once

#include <cstddef>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "strata/core/tensor.h"
#include "strata/io/safetensors.h"

namespace strata::io {

inline constexpr std::string_view kSafetensorsSingleFile = "model.safetensors";
inline constexpr std::string_view kSafetensorsIndexFile = "model.safetensors.index.json";

class SafetensorsModel {
 public:
  // `path` is a checkpoint directory (the index wins when both files exist, as in transformers) or a
  // single .safetensors file. Throws strata::Error naming the file and the problem: neither file present,
  // an index that is not JSON or lacks a weight_map of strings, shard names that leave the directory,
  // missing shard files (all named in one message), any shard failing SafetensorsFile::open, or a tensor
  // absent from the shard the index names. Tensors a shard holds but the index does not list are ignored.
  static SafetensorsModel open(const std::filesystem::path& path);

  SafetensorsModel() = default;
  SafetensorsModel(SafetensorsModel&&) noexcept = default;
  SafetensorsModel& operator=(SafetensorsModel&&) noexcept = default;

  // The path given to open().
  const std::filesystem::path& path() const { return path_; }
  // Every tensor name, sorted.
  const std::vector<std::string>& names() const { return names_; }
  size_t size() const { return names_.size(); }
  bool has(std::string_view name) const;
  // Throw strata::Error naming the tensor and the checkpoint path when the tensor is absent; get() also
  // throws as SafetensorsFile::get does (unsupported dtype or rank).
  const SafetensorsTensorInfo& info(std::string_view name) const;
  Tensor get(std::string_view name) const;
  // The file holding `name` (throws as get() does when absent).
  const SafetensorsFile& file_of(std::string_view name) const;
  // The opened files, in shard-name order (one for a single-file checkpoint).
  const std::vector<SafetensorsFile>& files() const { return files_; }

 private:
  std::filesystem::path path_;
  std::vector<SafetensorsFile> files_;
  std::map<std::string, size_t, std::less<>> file_index_;  // tensor name -> index into files_
  std::vector<std::string> names_;
};

}  // namespace strata::io
