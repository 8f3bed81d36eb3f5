// Hostile checkpoints and inputs: each must fail with one strata::Error naming what is wrong, before any
// compute — missing, extra, misshapen or mistyped tensors, an unsupported model_type, a truncated file,
// missing config fields, out-of-vocabulary and empty inputs.
#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "strata/core/error.h"
#include "strata/io/safetensors.h"
#include "strata/io/safetensors_writer.h"
#include "strata/model/logits_runner.h"
#include "strata/model/model.h"

namespace strata::model {
namespace {

namespace fs = std::filesystem;
const fs::path kFixture = fs::path(STRATA_SOURCE_DIR) / "tests/fixtures/models/nemotron_h_hybrid";

// A scratch copy of the fixture whose tensors and config a test may change.
class MutatedCheckpoint {
 public:
  MutatedCheckpoint() : dir_(fs::temp_directory_path() / ("strata_model_" + std::to_string(::getpid()) + "_" +
                                                          std::to_string(counter_++))) {
    fs::create_directories(dir_);
    fs::copy_file(kFixture / "config.json", dir_ / "config.json");
    source_ = std::make_unique<io::SafetensorsFile>(io::SafetensorsFile::open(kFixture / "model.safetensors"));
    for (const std::string& name : source_->names()) tensors_[name] = source_->get(name);
  }
  ~MutatedCheckpoint() { fs::remove_all(dir_); }

  std::map<std::string, Tensor>& tensors() { return tensors_; }
  void write() { io::write_safetensors(dir_ / "model.safetensors", tensors_); }
  void edit_config(const std::function<void(nlohmann::json&)>& edit) {
    std::ifstream in(dir_ / "config.json");
    nlohmann::json j = nlohmann::json::parse(in, nullptr, true, true);
    edit(j);
    std::ofstream(dir_ / "config.json") << j.dump(2);
  }
  const fs::path& dir() const { return dir_; }

 private:
  static inline int counter_ = 0;
  fs::path dir_;
  std::unique_ptr<io::SafetensorsFile> source_;
  std::map<std::string, Tensor> tensors_;
};

std::string load_error(const fs::path& dir) {
  try {
    Model::load(dir);
  } catch (const Error& e) {
    return e.what();
  }
  return "<loaded>";
}

TEST(ModelLoad, UnmodifiedCopyLoads) {
  MutatedCheckpoint c;
  c.write();
  EXPECT_EQ(load_error(c.dir()), "<loaded>");
}

TEST(ModelLoad, MissingTensorIsNamed) {
  MutatedCheckpoint c;
  c.tensors().erase("backbone.layers.3.mixer.A_log");
  c.write();
  EXPECT_NE(load_error(c.dir()).find("missing tensor 'backbone.layers.3.mixer.A_log'"), std::string::npos)
      << load_error(c.dir());
}

TEST(ModelLoad, ExtraTensorIsNamed) {
  MutatedCheckpoint c;
  float value = 1.0f;
  c.tensors()["backbone.layers.9.mixer.surprise"] = Tensor::contiguous(&value, DType::f32, {1});
  c.write();
  EXPECT_NE(load_error(c.dir()).find("'backbone.layers.9.mixer.surprise'"), std::string::npos) << load_error(c.dir());
}

TEST(ModelLoad, WrongShapeIsNamed) {
  MutatedCheckpoint c;
  Tensor& t = c.tensors()["backbone.layers.1.mixer.k_proj.weight"];
  t = t.slice(0, t.shape[0] - 1);
  c.write();
  const std::string e = load_error(c.dir());
  EXPECT_NE(e.find("k_proj.weight"), std::string::npos) << e;
  EXPECT_NE(e.find("expected shape"), std::string::npos) << e;
}

TEST(ModelLoad, WrongDtypeIsNamed) {
  MutatedCheckpoint c;
  std::vector<int32_t> ints(72, 1);
  c.tensors()["backbone.norm_f.weight"] = Tensor::contiguous(ints.data(), DType::i32, {72});
  c.write();
  const std::string e = load_error(c.dir());
  EXPECT_NE(e.find("'backbone.norm_f.weight' has dtype i32"), std::string::npos) << e;
}

TEST(ModelLoad, UnsupportedModelTypeAndMissingField) {
  {
    MutatedCheckpoint c;
    c.write();
    c.edit_config([](nlohmann::json& j) { j["model_type"] = "llama"; });
    EXPECT_NE(load_error(c.dir()).find("llama"), std::string::npos) << load_error(c.dir());
  }
  {
    MutatedCheckpoint c;
    c.write();
    c.edit_config([](nlohmann::json& j) { j.erase("n_routed_experts"); });
    EXPECT_NE(load_error(c.dir()).find("n_routed_experts"), std::string::npos) << load_error(c.dir());
  }
  {
    MutatedCheckpoint c;
    c.write();
    c.edit_config([](nlohmann::json& j) { j.erase("hidden_size"); });
    EXPECT_NE(load_error(c.dir()).find("hidden_size"), std::string::npos) << load_error(c.dir());
  }
}

TEST(ModelLoad, TruncatedWeightsFile) {
  MutatedCheckpoint c;
  c.write();
  fs::resize_file(c.dir() / "model.safetensors", fs::file_size(c.dir() / "model.safetensors") - 100);
  const std::string e = load_error(c.dir());
  EXPECT_NE(e.find("model.safetensors"), std::string::npos) << e;
}

TEST(ModelForward, BadInputsFailBeforeTouchingState) {
  const auto model = Model::load(kFixture);
  ThreadPool pool(1);
  EXPECT_THROW(run_logits(*model, {1, 2, 137}, 1, 3, LogitsMode{}, pool), Error);  // 137 is outside [0, 137)
  EXPECT_THROW(run_logits(*model, {1, 2, -1}, 1, 3, LogitsMode{}, pool), Error);
  EXPECT_THROW(run_logits(*model, {}, 0, 0, LogitsMode{}, pool), Error);

  SequenceCache cache = model->make_cache(CacheOptions{.max_sequences = 2, .max_context = 8});
  const int slot = cache.allocate();
  Workspace ws;
  const std::vector<int32_t> tokens = {5, 6, 7};
  const std::vector<SequenceStep> steps = {{.slot = slot, .length = 3, .all_logits = false}};
  Tensor logits = ws.take(DType::f32, {1, model->vocab_size()});
  model->forward(ForwardBatch{tokens, steps}, cache, logits, ws, pool);
  EXPECT_EQ(cache.position(slot), 3);
  // Too long for the KV blocks reserved for this cache: refused, and the slot keeps its 3 tokens.
  const std::vector<int32_t> many(14, 1);  // 3 + 14 > the 16 positions of the one block per slot
  const std::vector<SequenceStep> long_step = {{.slot = slot, .length = 14, .all_logits = false}};
  EXPECT_THROW(model->forward(ForwardBatch{many, long_step}, cache, logits, ws, pool), Error);
  EXPECT_EQ(cache.position(slot), 3);
  EXPECT_EQ(cache.kv->length(slot), 3);
  // An unallocated slot is refused.
  const std::vector<SequenceStep> stray = {{.slot = 1, .length = 3, .all_logits = false}};
  EXPECT_THROW(model->forward(ForwardBatch{tokens, stray}, cache, logits, ws, pool), Error);
}

TEST(ModelForward, KvExhaustionRollsBackEveryReservation) {
  const auto model = Model::load(kFixture);
  ThreadPool pool(1);
  // One KV block for two sequences: the second reservation fails, and the first must be undone.
  SequenceCache cache = model->make_cache(CacheOptions{.max_sequences = 2, .max_context = 16, .kv_blocks = 1});
  const int a = cache.allocate(), b = cache.allocate();
  Workspace ws;
  const std::vector<int32_t> tokens = {5, 6, 7, 8};
  const std::vector<SequenceStep> steps = {{.slot = a, .length = 2, .all_logits = false},
                                           {.slot = b, .length = 2, .all_logits = false}};
  Tensor logits = ws.take(DType::f32, {2, model->vocab_size()});
  try {
    model->forward(ForwardBatch{tokens, steps}, cache, logits, ws, pool);
    FAIL() << "expected the KV cache to refuse";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no room"), std::string::npos) << e.what();
  }
  EXPECT_EQ(cache.kv->length(a), 0);
  EXPECT_EQ(cache.kv->length(b), 0);
  EXPECT_EQ(cache.kv->free_block_count(), 1);
  EXPECT_EQ(cache.position(a), 0);
}

}  // namespace
}  // namespace strata::model
