// Zamba2's shared blocks at the weight level: a block is stored once (under the first hybrid layer that
// uses it) and bound once — parameters count it once —, an identical tied copy is accepted and not
// counted, a copy that differs is refused, and an adapter of the wrong rank or a missing shared tensor
// gets one error naming the tensor.
#include <cstring>
#include <algorithm>
#include <map>
#include <set>
#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "strata/core/error.h"
#include "strata/model/model.h"
#include "strata/model/weight_source.h"

namespace strata::model {
namespace {

const std::string kDir = std::string(STRATA_SOURCE_DIR) + "/tests/fixtures/models/zamba2";
const std::string kAdapter = "model.layers.1.shared_transformer.feed_forward.gate_up_proj_adapter_list.0.1.weight";
const std::string kQ = "model.layers.1.shared_transformer.self_attn.q_proj.weight";

// The fixture's tensors with some replaced, added or removed.
class EditedWeights : public WeightSource {
 public:
  EditedWeights() : base_(kDir) {
    for (const std::string& n : base_.names()) names_.push_back(n);
  }
  // name -> a copy of `like` (same dtype) with `shape`, filled by `fill` bytes; absent names are added.
  void put(const std::string& name, const Tensor& like, std::initializer_list<int64_t> shape, bool copy_data) {
    Tensor t = Tensor::contiguous(nullptr, like.dtype, shape);
    Buffer& b = buffers_.emplace_back(t.nbytes());
    t.data = b.data();
    if (copy_data && t.nbytes() == like.nbytes()) std::memcpy(t.data, like.data, t.nbytes());
    if (!base_.has(name) && !edits_.count(name)) {
      names_.push_back(name);
      std::sort(names_.begin(), names_.end());
    }
    edits_[name] = t;
  }
  void remove(const std::string& name) {
    std::erase(names_, name);
    removed_.insert(name);
  }
  Tensor base(const std::string& name) const { return base_.get(name); }

  std::string where() const override { return base_.where(); }
  const std::vector<std::string>& names() const override { return names_; }
  bool has(std::string_view name) const override {
    const std::string n(name);
    return !removed_.count(n) && (edits_.count(n) || base_.has(name));
  }
  Tensor get(std::string_view name) const override {
    const std::string n(name);
    if (auto it = edits_.find(n); it != edits_.end()) return it->second;
    if (removed_.count(n)) fail("{}: no tensor '{}'", where(), n);
    return base_.get(name);
  }

 private:
  SafetensorsWeights base_;
  std::vector<std::string> names_;
  std::map<std::string, Tensor> edits_;
  std::set<std::string> removed_;
  std::vector<Buffer> buffers_;
};

std::unique_ptr<Model> load(std::unique_ptr<EditedWeights> weights) {
  return Model::from_weights(load_model_config(kDir), std::move(weights), "edited zamba2");
}

void expect_load_error(std::unique_ptr<EditedWeights> weights, std::initializer_list<std::string> parts) {
  try {
    load(std::move(weights));
    ADD_FAILURE() << "expected the load to fail";
  } catch (const Error& e) {
    const std::string message = e.what();
    for (const std::string& part : parts) EXPECT_NE(message.find(part), std::string::npos) << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  }
}

TEST(SharedBlockWeights, EachBlockIsStoredAndCountedOnce) {
  const auto model = Model::load(kDir);
  const SafetensorsWeights file(kDir);
  int64_t elements = 0;
  for (const std::string& n : file.names()) {
    elements += file.get(n).numel();
    // No hybrid layer but the first user of a block carries that block.
    EXPECT_EQ(n.find("layers.4.shared_transformer"), std::string::npos) << n;
    EXPECT_EQ(n.find("layers.3.shared_transformer.self_attn.linear_q_adapter_list.0."), std::string::npos) << n;
  }
  EXPECT_EQ(model->parameter_count(), elements);
  int uses = 0;
  for (const Block& b : model->blocks()) uses += b.shared.has_value();
  EXPECT_EQ(uses, 3);
}

TEST(SharedBlockWeights, AnIdenticalTiedCopyIsAcceptedAndNotCounted) {
  auto weights = std::make_unique<EditedWeights>();
  const Tensor q = weights->base(kQ);
  weights->put("model.layers.4.shared_transformer.self_attn.q_proj.weight", q, {q.shape[0], q.shape[1]}, true);
  const int64_t file_parameters = Model::load(kDir)->parameter_count();
  EXPECT_EQ(load(std::move(weights))->parameter_count(), file_parameters);
}

TEST(SharedBlockWeights, ATiedCopyThatDiffersIsRefused) {
  auto weights = std::make_unique<EditedWeights>();
  const Tensor q = weights->base(kQ);
  weights->put("model.layers.4.shared_transformer.self_attn.q_proj.weight", q, {q.shape[0], q.shape[1]}, false);
  expect_load_error(std::move(weights), {"layers.4.shared_transformer.self_attn.q_proj.weight", "tied copy", "differs"});
}

TEST(SharedBlockWeights, AnAdapterOfTheWrongRankIsNamed) {
  auto weights = std::make_unique<EditedWeights>();
  const Tensor up = weights->base(kAdapter);
  weights->put(kAdapter, up, {up.shape[0], up.shape[1] - 1}, false);
  expect_load_error(std::move(weights), {"shared block 0", "adapter", "use 0"});
}

TEST(SharedBlockWeights, AMissingSharedTensorIsNamed) {
  auto weights = std::make_unique<EditedWeights>();
  weights->remove(kQ);
  expect_load_error(std::move(weights), {"missing tensor", "layers.1.shared_transformer.self_attn.q_proj.weight"});
}

}  // namespace
}  // namespace strata::model
