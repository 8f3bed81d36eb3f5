#include "strata/engine/device_sampler.h"

#include <algorithm>
#include <cstring>
#include <limits>

#include "strata/core/cuda_context.h"
#include "strata/core/cuda_runtime.h"
#include "strata/core/error.h"

namespace strata::engine {

static_assert(cuda::kMaxTopLogprobs == kMaxLogprobs, "the kernel's result rows hold every allowed logprob");
static_assert(alignof(cuda::SampleRowSettings) >= alignof(cuda::PenaltyEntry),
              "penalty entries follow the settings in one buffer");

namespace {

size_t grown(size_t needed, size_t have) { return needed <= have ? have : std::max(needed, 2 * have); }

// The penalties Sampler::sample applies (sampling_penalties.h), as the kernel's entry list: with a
// repetition penalty every token of the history, else (presence / frequency only) the generated ones.
void append_penalties(const SamplingParams& params, const TokenHistory& history,
                      std::vector<cuda::PenaltyEntry>& out) {
  const auto& counts = history.generated_counts();
  if (params.repetition_penalty != 1.0f) {
    for (int32_t id : history.seen()) {
      const auto count = counts.find(id);
      out.push_back({id, count == counts.end() ? 0 : count->second});
    }
  } else if (params.presence_penalty != 0.0f || params.frequency_penalty != 0.0f) {
    for (const auto& [id, count] : counts) out.push_back({id, count});
  }
}

}  // namespace

DeviceSampler::DeviceSampler(CudaContext& cuda) : cuda_(cuda) {}

void DeviceSampler::reserve(size_t input_bytes, size_t result_bytes) {
  if (input_bytes > host_input_.size()) {
    const size_t bytes = grown(input_bytes, host_input_.size());
    host_input_ = Buffer::pinned(bytes);
    device_input_ = Buffer(bytes, Device::cuda);
  }
  if (result_bytes > host_results_.size()) {
    const size_t bytes = grown(result_bytes, host_results_.size());
    host_results_ = Buffer::pinned(bytes);
    device_results_ = Buffer(bytes, Device::cuda);
  }
}

std::vector<DeviceSampleOutcome> DeviceSampler::sample(const Tensor& logits, std::span<const DeviceSampleJob> jobs) {
  if (logits.device != Device::cuda || logits.dtype != DType::f32 || logits.ndim != 2)
    fail("device sampler: logits must be an f32 [rows, vocab] tensor on the GPU, got {} on the {}", logits.describe(),
         device_name(logits.device));
  const int64_t rows = logits.size(0), vocab = logits.size(1);
  if (vocab > 1 && logits.stride(1) != 1)
    fail("device sampler: logits {} must have unit column stride, got {}", logits.describe(), logits.stride(1));
  if (rows > 1 && logits.stride(0) < vocab)
    fail("device sampler: logits {} rows overlap (row stride {} < vocab {})", logits.describe(), logits.stride(0), vocab);
  if (vocab > std::numeric_limits<int32_t>::max())
    fail("device sampler: a vocabulary of {} tokens does not fit 32-bit token ids", vocab);
  std::vector<bool> taken(static_cast<size_t>(rows), false);
  for (const DeviceSampleJob& job : jobs) {
    if (job.sampler == nullptr) fail("device sampler: a job has no sampler");
    if (job.row < 0 || job.row >= rows)
      fail("device sampler: row {} is outside the logits' {} rows", job.row, rows);
    if (taken[static_cast<size_t>(job.row)]) fail("device sampler: row {} is sampled twice in one call", job.row);
    taken[static_cast<size_t>(job.row)] = true;
  }

  std::vector<DeviceSampleOutcome> outcomes(jobs.size());
  if (jobs.empty()) return outcomes;
  if (vocab == 0) {
    for (DeviceSampleOutcome& o : outcomes) o.error = "sampler: logits are empty; expected one value per vocabulary token";
    return outcomes;
  }

  // Pack: one settings record per job, the penalty entries after them.
  settings_.assign(jobs.size(), cuda::SampleRowSettings{});
  penalties_.clear();
  for (size_t j = 0; j < jobs.size(); ++j) {
    const Sampler& sampler = *jobs[j].sampler;
    const SamplingParams& params = sampler.params();
    const TokenHistory& history = sampler.history();
    cuda::SampleRowSettings& s = settings_[j];
    s.row = jobs[j].row;
    if (static_cast<int64_t>(history.max_token_id()) + 1 > vocab) {
      outcomes[j].error = fmt::format("sampler: token id {} in the request's history does not fit the vocabulary of {} logits",
                                      history.max_token_id(), vocab);
      s.skip = 1;  // its penalty ids would index past the row
      continue;
    }
    s.greedy = params.greedy() ? 1 : 0;
    if (const std::optional<double> u = sampler.peek_draw()) {
      s.uniform = *u;
      s.inverse_temperature = 1.0f / params.temperature;
    }
    s.top_k = params.top_k > 0 && params.top_k < vocab ? params.top_k : 0;
    s.top_p = params.top_p;
    s.min_p = params.min_p;
    s.repetition_penalty = params.repetition_penalty;
    s.presence_penalty = params.presence_penalty;
    s.frequency_penalty = params.frequency_penalty;
    s.logprobs = params.logprobs;
    const size_t begin = penalties_.size();
    append_penalties(params, history, penalties_);
    if (penalties_.size() > static_cast<size_t>(std::numeric_limits<int32_t>::max()))
      fail("device sampler: {} penalty entries in one step do not fit 32-bit offsets", penalties_.size());
    s.penalty_begin = static_cast<int32_t>(begin);
    s.penalty_count = static_cast<int32_t>(penalties_.size() - begin);
  }

  const size_t settings_bytes = settings_.size() * sizeof(cuda::SampleRowSettings);
  const size_t penalty_bytes = penalties_.size() * sizeof(cuda::PenaltyEntry);
  const size_t result_bytes = jobs.size() * sizeof(cuda::SampleRowResult);
  reserve(settings_bytes + penalty_bytes, result_bytes);
  auto* host_input = static_cast<std::byte*>(host_input_.data());
  std::memcpy(host_input, settings_.data(), settings_bytes);
  if (penalty_bytes > 0) std::memcpy(host_input + settings_bytes, penalties_.data(), penalty_bytes);

  void* stream = cuda_.stream();
  strata::cuda::copy_async(device_input_.data(), host_input, settings_bytes + penalty_bytes, stream);
  cuda::SampleRowsArgs args;
  args.logits = logits.ptr<float>();
  args.row_stride = rows > 1 ? logits.stride(0) : vocab;
  args.vocab = vocab;
  args.settings = static_cast<const cuda::SampleRowSettings*>(device_input_.data());
  args.penalties = reinterpret_cast<const cuda::PenaltyEntry*>(static_cast<const std::byte*>(device_input_.data()) + settings_bytes);
  args.results = static_cast<cuda::SampleRowResult*>(device_results_.data());
  args.rows = static_cast<int>(jobs.size());
#if STRATA_HAVE_CUDA
  cuda::sample_rows(args, stream);
#else
  fail("device sampler: this build has no CUDA backend");
#endif
  strata::cuda::copy_async(host_results_.data(), device_results_.data(), result_bytes, stream);
  strata::cuda::synchronize(stream);

  const auto* results = static_cast<const cuda::SampleRowResult*>(host_results_.data());
  for (size_t j = 0; j < jobs.size(); ++j) {
    DeviceSampleOutcome& outcome = outcomes[j];
    if (!outcome.ok()) continue;  // refused on the host, skipped on the device
    const cuda::SampleRowResult& r = results[j];
    switch (r.status) {
      case cuda::kSampleOk: break;
      case cuda::kSampleBadLogit:
        outcome.error = fmt::format("sampler: logit of token {} is {}; logits must be finite or -inf", r.bad_token, r.bad_value);
        continue;
      case cuda::kSampleAllNegativeInfinity:
        outcome.error = fmt::format("sampler: every one of the {} logits is -inf", vocab);
        continue;
      default:
        fail("device sampler: row {} came back with status {} (expected a sample)", jobs[j].row, r.status);
    }
    if (r.token_id < 0 || r.token_id >= vocab || r.top_count < 0 || r.top_count > cuda::kMaxTopLogprobs)
      fail("device sampler: row {} came back with token {} and {} alternatives (vocab {})", jobs[j].row, r.token_id,
           r.top_count, vocab);
    outcome.result.token_id = r.token_id;
    outcome.result.logprob = r.logprob;
    outcome.result.top_logprobs.reserve(static_cast<size_t>(r.top_count));
    for (int k = 0; k < r.top_count; ++k) outcome.result.top_logprobs.push_back({r.top_ids[k], r.top_logprobs[k]});
    jobs[j].sampler->accept(r.token_id);
  }
  return outcomes;
}

}  // namespace strata::engine
