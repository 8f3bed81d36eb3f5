// DeviceSampler: Sampler::sample for a whole step's sequences at once, on the GPU that holds the step's
// logits, so that only token ids and the requested log-probabilities cross to the host. Same semantics
// and the same results as the host sampler (sampler.h): penalties, log-softmax of the penalised logits,
// greedy argmax (lowest id on ties) or temperature / top-k / top-p / min-p and a draw with the uniform
// number the request's RNG gives (Sampler::peek_draw), in the host's candidate order. Greedy tokens are
// exact; a drawn token differs from the host's only when the number lands within float rounding of a
// cumulative boundary (engine/cuda/sample_rows.cu says why).
//
// Per call: settings and penalty lists packed on the host, one host->device copy, one kernel (a block per
// row), one device->host copy of the results, one stream synchronisation; then each Sampler records its
// token (Sampler::accept). Staging memory grows to the largest call and is kept.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "strata/core/tensor.h"
#include "strata/engine/cuda/sample_rows.h"
#include "strata/engine/sampler.h"

namespace strata {
class CudaContext;
}

namespace strata::engine {

struct DeviceSampleJob {
  Sampler* sampler = nullptr;  // distinct per job
  int64_t row = 0;             // the logits row this sampler reads; distinct per job
};

struct DeviceSampleOutcome {
  SampleResult result;
  // Empty on success; otherwise the message Sampler::sample would have thrown for these logits (bad
  // values, all -inf, a history token outside the vocabulary), and the sampler is left untouched.
  std::string error;
  bool ok() const { return error.empty(); }
};

class DeviceSampler {
 public:
  explicit DeviceSampler(CudaContext& cuda);
  DeviceSampler(const DeviceSampler&) = delete;
  DeviceSampler& operator=(const DeviceSampler&) = delete;

  // Samples each job's row of `logits` (f32 on the GPU, [rows, vocab], unit column stride, row stride
  // >= vocab) with its sampler, on the context's stream, after whatever is queued there. The sampled
  // rows are overwritten with their penalised logits. Outcomes come in job order. Throws strata::Error
  // for a malformed call (tensor, rows) or a CUDA failure, not for bad logits (those are outcomes).
  std::vector<DeviceSampleOutcome> sample(const Tensor& logits, std::span<const DeviceSampleJob> jobs);

 private:
  void reserve(size_t input_bytes, size_t result_bytes);

  CudaContext& cuda_;
  std::vector<cuda::SampleRowSettings> settings_;
  std::vector<cuda::PenaltyEntry> penalties_;
  Buffer host_input_, device_input_;      // settings, then penalty entries: one copy
  Buffer host_results_, device_results_;  // one SampleRowResult per job
};

}  // namespace strata::engine
