// WeightSource: where a model's tensors come from — a memory-mapped safetensors checkpoint, or tensors
// built in memory (synthetic models for `strata bench --synthetic`, tests). The model binds its layers to
// views the source hands out; the source must outlive the model that uses it.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "strata/core/tensor.h"
#include "strata/io/safetensors_model.h"

namespace strata::model {

class WeightSource {
 public:
  virtual ~WeightSource() = default;
  // Names the source in error messages: a path, or "synthetic model NAME".
  virtual std::string where() const = 0;
  virtual const std::vector<std::string>& names() const = 0;  // sorted
  virtual bool has(std::string_view name) const = 0;
  // Throws strata::Error naming the tensor and where() when it is absent.
  virtual Tensor get(std::string_view name) const = 0;
};

class SafetensorsWeights : public WeightSource {
 public:
  explicit SafetensorsWeights(const std::filesystem::path& dir_or_file)
      : model_(io::SafetensorsModel::open(dir_or_file)) {}
  std::string where() const override { return model_.path().string(); }
  const std::vector<std::string>& names() const override { return model_.names(); }
  bool has(std::string_view name) const override { return model_.has(name); }
  Tensor get(std::string_view name) const override { return model_.get(name); }

 private:
  io::SafetensorsModel model_;
};

// Owns its tensors. add() allocates a zeroed tensor and returns a view for the caller to fill.
class MemoryWeights : public WeightSource {
 public:
  explicit MemoryWeights(std::string label) : label_(std::move(label)) {}
  Tensor add(const std::string& name, DType dtype, std::initializer_list<int64_t> shape);
  std::string where() const override { return label_; }
  const std::vector<std::string>& names() const override { return names_; }
  bool has(std::string_view name) const override;
  Tensor get(std::string_view name) const override;

 private:
  std::string label_;
  std::map<std::string, std::pair<Buffer, Tensor>, std::less<>> tensors_;
  std::vector<std::string> names_;
};

}  // namespace strata::model
