// Uploading a model's weights to the GPU once: each distinct host tensor (same memory, dtype, shape and
// strides: tied embeddings, a shared block's weights used at several depths) gets one device copy, in
// its checkpoint dtype for the fast path or widened to f32 for `--precision exact`. Small parameters are
// already f32 on the host and stay f32.
#pragma once

#include <cstddef>
#include <map>
#include <string_view>
#include <tuple>
#include <vector>

#include "strata/core/tensor.h"

namespace strata::model {

// exact: f32 activations and f32 weights (bf16/f16 widened on upload): the GPU matches transformers'
// float32 logits like the CPU. fast: weights as stored (bf16 usually, half the bytes), tensor-core GEMMs
// with the f32 activations split into two bf16 halves (kernels/cuda/gemm.h) and f32 accumulation; the
// residual stream and the SSM state stay f32.
enum class Precision : uint8_t { exact, fast };

const char* precision_name(Precision precision);
// "exact" / "fast"; throws strata::Error naming the value otherwise.
Precision parse_precision(std::string_view text);

class WeightUploader {
 public:
  explicit WeightUploader(Precision precision) : precision_(precision) {}

  // Replaces a host tensor by its device copy (absent tensors stay absent). Throws strata::Error when
  // the GPU cannot hold it.
  void upload(Tensor& tensor);
  // The same at a given precision: exact widens this tensor to f32 whatever the model's precision
  // (an MoE router, whose f32 logits choose the experts: a bf16-rounded input flips near-tied choices).
  void upload(Tensor& tensor, Precision precision);
  // The device memory of every copy made: the caller keeps it alive as long as the views.
  std::vector<Buffer> take_buffers() { return std::move(buffers_); }
  size_t bytes() const { return bytes_; }

 private:
  using Key = std::tuple<const void*, int, int, std::vector<int64_t>, bool>;  // ..., widened
  Precision precision_;
  std::map<Key, Tensor> uploaded_;
  std::vector<Buffer> buffers_;
  size_t bytes_ = 0;
};

}  // namespace strata::model
