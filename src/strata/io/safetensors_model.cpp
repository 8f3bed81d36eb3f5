#include "strata/io/safetensors_model.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "strata/core/error.h"
#include "strata/io/json_depth.h"
#include "strata/io/json_error.h"

namespace strata::io {

namespace {

using nlohmann::json;

json read_index(const std::filesystem::path& index_path) {
  std::ifstream in(index_path, std::ios::binary);
  if (!in) fail("{}: cannot open", index_path.string());
  std::stringstream text;
  text << in.rdbuf();
  const std::string content = text.str();
  check_json_depth(content, index_path.string());
  try {
    return json::parse(content);
  } catch (const json::exception& e) {
    fail("{}", json_error_message(index_path.string(), e));
  }
}

// Shards live beside the index; a name that climbs out of the directory is refused, not followed.
void check_shard_name(const std::filesystem::path& index_path, const std::string& tensor,
                      const std::string& shard) {
  const std::filesystem::path relative(shard);
  bool escapes = shard.empty() || relative.is_absolute();
  for (const auto& part : relative)
    if (part == "..") escapes = true;
  if (escapes)
    fail("{}: weight_map entry '{}' names shard '{}', expected a file name inside the checkpoint directory",
         index_path.string(), tensor, shard);
}

}  // namespace

SafetensorsModel SafetensorsModel::open(const std::filesystem::path& path) {
  SafetensorsModel model;
  model.path_ = path;
  std::error_code error;
  if (std::filesystem::is_regular_file(path, error)) {
    model.files_.push_back(SafetensorsFile::open(path));
    for (const std::string& name : model.files_[0].names()) model.file_index_.emplace(name, 0);
  } else {
    if (!std::filesystem::is_directory(path, error))
      fail("{}: no such checkpoint directory or safetensors file", path.string());
    const std::filesystem::path index_path = path / kSafetensorsIndexFile;
    const std::filesystem::path single_path = path / kSafetensorsSingleFile;
    if (std::filesystem::exists(index_path, error)) {
      const json index = read_index(index_path);
      const std::string where = index_path.string();
      if (!index.is_object()) fail("{}: expected a JSON object with a \"weight_map\"", where);
      auto map_it = index.find("weight_map");
      if (map_it == index.end() || !map_it->is_object())
        fail("{}: missing \"weight_map\" object (tensor name -> shard file)", where);

      std::map<std::string, std::string> weight_map;
      std::set<std::string> shard_names;
      for (const auto& [tensor, shard] : map_it->items()) {
        if (!shard.is_string())
          fail("{}: weight_map entry '{}' is {}, expected a shard file name", where, tensor, shard.dump());
        check_shard_name(index_path, tensor, shard.get<std::string>());
        weight_map.emplace(tensor, shard.get<std::string>());
        shard_names.insert(shard.get<std::string>());
      }
      std::string missing;
      for (const std::string& shard : shard_names)
        if (!std::filesystem::is_regular_file(path / shard, error))
          missing += (missing.empty() ? "" : ", ") + shard;
      if (!missing.empty()) fail("{}: missing shard files: {}", where, missing);

      std::map<std::string, size_t> shard_position;
      for (const std::string& shard : shard_names) {
        shard_position.emplace(shard, model.files_.size());
        model.files_.push_back(SafetensorsFile::open(path / shard));
      }
      for (const auto& [tensor, shard] : weight_map) {
        const size_t position = shard_position.at(shard);
        if (!model.files_[position].has(tensor))
          fail("{}: tensor '{}' is listed in shard '{}', but that file does not contain it", where, tensor,
               shard);
        model.file_index_.emplace(tensor, position);
      }
    } else if (std::filesystem::exists(single_path, error)) {
      model.files_.push_back(SafetensorsFile::open(single_path));
      for (const std::string& name : model.files_[0].names()) model.file_index_.emplace(name, 0);
    } else {
      fail("{}: contains neither {} nor {}", path.string(), kSafetensorsSingleFile, kSafetensorsIndexFile);
    }
  }
  for (const auto& [name, position] : model.file_index_) model.names_.push_back(name);
  return model;
}

bool SafetensorsModel::has(std::string_view name) const {
  return file_index_.find(name) != file_index_.end();
}

const SafetensorsFile& SafetensorsModel::file_of(std::string_view name) const {
  auto it = file_index_.find(name);
  if (it == file_index_.end()) fail("{}: checkpoint has no tensor named '{}'", path_.string(), name);
  return files_[it->second];
}

const SafetensorsTensorInfo& SafetensorsModel::info(std::string_view name) const {
  return file_of(name).info(name);
}

Tensor SafetensorsModel::get(std::string_view name) const { return file_of(name).get(name); }

}  // namespace strata::io
