// SafetensorsModel: single-file and sharded checkpoint directories, lookup errors naming the tensor and
// the directory, and broken indexes (missing shards, tensors not where the index says, escaping names).
#include "strata/io/safetensors_model.h"

#include <gtest/gtest.h>

#include "safetensors_test_util.h"
#include "strata/core/error.h"
#include "strata/io/safetensors_writer.h"

namespace strata::io {
namespace {

using testing::ScratchDir;
using testing::write_bytes;

using testing::error_of;

// Writes a tensor whose single f32 value identifies it, so lookups can prove which file they hit.
void write_shard(const std::filesystem::path& path, const std::map<std::string, float>& values) {
  std::vector<float> storage;
  storage.reserve(values.size());
  std::map<std::string, Tensor> tensors;
  for (const auto& [name, value] : values) {
    storage.push_back(value);
    tensors.emplace(name, Tensor::contiguous(&storage.back(), DType::f32, {1}));
  }
  write_safetensors(path, tensors);
}

float value_of(const SafetensorsModel& model, const std::string& name) {
  return model.get(name).ptr<float>()[0];
}

constexpr const char* kShard1 = "model-00001-of-00002.safetensors";
constexpr const char* kShard2 = "model-00002-of-00002.safetensors";

void write_sharded(const ScratchDir& dir) {
  write_shard(dir / kShard1, {{"backbone.embeddings.weight", 1}, {"backbone.layers.0.mixer.A_log", 2}});
  write_shard(dir / kShard2, {{"backbone.layers.1.mixer.A_log", 3}, {"lm_head.weight", 4}, {"stray", 5}});
  write_bytes(dir / "model.safetensors.index.json",
              fmt::format(R"({{"metadata": {{"total_size": 16}}, "weight_map": {{
                  "backbone.embeddings.weight": "{0}", "backbone.layers.0.mixer.A_log": "{0}",
                  "backbone.layers.1.mixer.A_log": "{1}", "lm_head.weight": "{1}"}}}})",
                          kShard1, kShard2));
}

TEST(SafetensorsModel, SingleFileDirectoryAndPlainFile) {
  ScratchDir dir;
  write_shard(dir / "model.safetensors", {{"a", 1.5f}, {"b", -2}});
  for (const auto& path : {dir.path(), dir / "model.safetensors"}) {
    const SafetensorsModel model = SafetensorsModel::open(path);
    EXPECT_EQ(model.names(), (std::vector<std::string>{"a", "b"}));
    EXPECT_EQ(model.files().size(), 1u);
    EXPECT_EQ(value_of(model, "a"), 1.5f);
    EXPECT_EQ(value_of(model, "b"), -2.0f);
    EXPECT_EQ(model.info("b").dtype_name, "F32");
  }
}

TEST(SafetensorsModel, ShardedDirectoryFollowsTheIndex) {
  ScratchDir dir;
  write_sharded(dir);
  write_shard(dir / "model.safetensors", {{"decoy", 9}});  // the index wins over a stray single file
  const SafetensorsModel model = SafetensorsModel::open(dir.path());
  EXPECT_EQ(model.names(),
            (std::vector<std::string>{"backbone.embeddings.weight", "backbone.layers.0.mixer.A_log",
                                      "backbone.layers.1.mixer.A_log", "lm_head.weight"}));
  ASSERT_EQ(model.files().size(), 2u);
  EXPECT_EQ(value_of(model, "backbone.embeddings.weight"), 1.0f);
  EXPECT_EQ(value_of(model, "backbone.layers.0.mixer.A_log"), 2.0f);
  EXPECT_EQ(value_of(model, "backbone.layers.1.mixer.A_log"), 3.0f);
  EXPECT_EQ(value_of(model, "lm_head.weight"), 4.0f);
  EXPECT_EQ(model.file_of("lm_head.weight").path(), dir / kShard2);
  EXPECT_FALSE(model.has("stray"));  // in a shard, but not in the index
  EXPECT_FALSE(model.has("decoy"));

  const std::string message = error_of([&] { model.get("backbone.layers.2.mixer.A_log"); });
  EXPECT_NE(message.find(dir.path().string()), std::string::npos) << message;
  EXPECT_NE(message.find("'backbone.layers.2.mixer.A_log'"), std::string::npos) << message;
}

TEST(SafetensorsModel, MissingShardsAreAllNamed) {
  ScratchDir dir;
  write_shard(dir / kShard1, {{"a", 1}});
  write_bytes(
      dir / "model.safetensors.index.json",
      fmt::format(R"({{"weight_map": {{"a": "{}", "b": "{}", "c": "model-00003-of-00003.safetensors"}}}})",
                  kShard1, kShard2));
  const std::string message = error_of([&] { SafetensorsModel::open(dir.path()); });
  EXPECT_NE(message.find("model.safetensors.index.json"), std::string::npos) << message;
  EXPECT_NE(
      message.find(std::string("missing shard files: ") + kShard2 + ", model-00003-of-00003.safetensors"),
      std::string::npos)
      << message;
}

TEST(SafetensorsModel, BrokenIndexes) {
  ScratchDir dir;
  write_shard(dir / kShard1, {{"a", 1}});
  const auto index = dir / "model.safetensors.index.json";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"({"weight_map": {"b": "model-00001-of-00002.safetensors"}})", "tensor 'b' is listed in shard"},
      {R"({"weight_map": )", "not valid JSON"},
      {R"([1, 2])", "expected a JSON object"},
      {R"({"metadata": {}})", "missing \"weight_map\""},
      {R"({"weight_map": {"a": 3}})", "weight_map entry 'a' is 3"},
      {R"({"weight_map": {"a": "../model-00001-of-00002.safetensors"}})", "inside the checkpoint directory"},
      {R"({"weight_map": {"a": "/etc/passwd"}})", "inside the checkpoint directory"},
  };
  for (const auto& [text, fragment] : cases) {
    write_bytes(index, text);
    const std::string message = error_of([&] { SafetensorsModel::open(dir.path()); });
    EXPECT_NE(message.find(index.string()), std::string::npos) << message;
    EXPECT_NE(message.find(fragment), std::string::npos) << message;
  }
  // A corrupt shard is reported under the shard's own name.
  write_bytes(index, fmt::format(R"({{"weight_map": {{"a": "{}"}}}})", kShard1));
  write_bytes(dir / kShard1, "garbage");
  const std::string message = error_of([&] { SafetensorsModel::open(dir.path()); });
  EXPECT_NE(message.find((dir / kShard1).string() + ": "), std::string::npos) << message;
}

TEST(SafetensorsModel, NoCheckpointThere) {
  ScratchDir dir;
  std::string message = error_of([&] { SafetensorsModel::open(dir.path()); });
  EXPECT_NE(message.find("contains neither model.safetensors nor model.safetensors.index.json"),
            std::string::npos)
      << message;
  message = error_of([&] { SafetensorsModel::open(dir / "nowhere"); });
  EXPECT_NE(message.find("nowhere"), std::string::npos) << message;
}

}  // namespace
}  // namespace strata::io
