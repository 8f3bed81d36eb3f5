// The device sampler's kernel contract (engine/device_sampler.h packs its inputs and reads its results).
// Each row of a batch is one Sampler::sample step done on the GPU, with the same semantics (sampler.h):
// penalties, the log-softmax of the penalised logits, greedy argmax or temperature / top-k / top-p /
// min-p and a draw with the host-drawn uniform number, the top `logprobs` alternatives. Plain C++, so
// the host side includes it without CUDA headers; the structs are shared byte for byte with the .cu.
#pragma once

#include <cstdint>

namespace strata::engine::cuda {

// The most top alternatives a row may ask for (SamplingParams' kMaxLogprobs; device_sampler.cpp checks).
inline constexpr int kMaxTopLogprobs = 20;

// A token of the request's history: repetition penalises it (it is in prompt + generated), presence and
// frequency penalise it `generated_count` times (0: seen in the prompt only). One entry per token id.
struct PenaltyEntry {
  int32_t token_id = 0;
  int32_t generated_count = 0;
};

enum SampleRowStatus : int32_t {
  kSampleOk = 0,
  kSampleBadLogit = 1,         // a penalised logit is NaN or +inf: bad_token / bad_value say which
  kSampleAllNegativeInfinity = 2,
  kSampleSkipped = 3,          // settings.skip: nothing was read or written
};

// One row's settings, in the form the host sampler uses them (sampler.cpp).
struct SampleRowSettings {
  double uniform = 0.0;              // the draw, in [0, 1) (Sampler::peek_draw); unused when greedy
  int64_t row = 0;                   // which logits row
  float inverse_temperature = 1.0f;  // 1.0f / temperature, computed on the host exactly as sampler.cpp does
  float top_p = 1.0f;                // < 1: nucleus on
  float min_p = 0.0f;
  float repetition_penalty = 1.0f;
  float presence_penalty = 0.0f;
  float frequency_penalty = 0.0f;
  int32_t greedy = 0;                // 1: argmax, lowest id on ties
  int32_t top_k = 0;                 // in (0, vocab): on; the host turns k >= vocab into 0 (off), as the filters do
  int32_t logprobs = 0;              // 0..kMaxTopLogprobs
  int32_t penalty_begin = 0;         // this row's PenaltyEntry range
  int32_t penalty_count = 0;
  int32_t skip = 0;                  // 1: leave the row alone (the host already knows it fails)
};

struct SampleRowResult {
  int32_t status = kSampleOk;
  int32_t token_id = -1;
  float logprob = 0.0f;              // log-softmax of the penalised logits (before temperature)
  int32_t bad_token = -1;            // kSampleBadLogit: the first bad token and its penalised logit
  float bad_value = 0.0f;
  int32_t top_count = 0;             // min(logprobs, vocab)
  int32_t top_ids[kMaxTopLogprobs] = {};
  float top_logprobs[kMaxTopLogprobs] = {};
};

struct SampleRowsArgs {
  float* logits = nullptr;  // device [*, row_stride] f32; each sampled row is overwritten with its penalised logits
  int64_t row_stride = 0;   // >= vocab
  int64_t vocab = 0;        // 1 .. 2^31 - 1
  const SampleRowSettings* settings = nullptr;  // device [rows]
  const PenaltyEntry* penalties = nullptr;      // device, every row's entries
  SampleRowResult* results = nullptr;           // device [rows]
  int rows = 0;                                 // distinct logits rows, one block each
};

// Launches one block per row on `stream` (a cudaStream_t); asynchronous, never throws except through
// strata::cuda::check_last_error on a failed launch. The caller validated every field above.
void sample_rows(const SampleRowsArgs& args, void* stream);

}  // namespace strata::engine::cuda
