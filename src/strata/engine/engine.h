// Engine: continuous batching over one Model. Requests are submitted from any thread; each step packs
// the decode tokens of running sequences and prefill chunks of admitted ones into one forward within a
// token budget, samples, streams events, retires finished sequences and admits queued ones. Before a
// prompt is prefilled, the longest stored prefix state (Mamba states and KV together) is restored, so
// only the remainder is computed; states are captured at prefill-chunk boundaries and at sequence ends.
//
// Admission reserves a sequence's whole KV need (prompt + max_new_tokens) up front, so a running
// sequence never runs out of blocks mid-generation; requests that could never fit are refused at once
// (finished event with reason error), requests that fit later wait in a FIFO queue.
//
// Thread-safety: submit() and cancel() may be called from any thread at any time (also from callbacks).
// step() / run_until_idle() / generate() must not run concurrently with each other or with start().
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include "strata/cache/prefix_store.h"
#include "strata/core/thread_pool.h"
#include "strata/engine/request.h"
#include "strata/core/workspace.h"
#include "strata/model/decode_graphs.h"
#include "strata/model/model.h"

namespace strata {
class CudaContext;
}

namespace strata::engine {

class DeviceSampler;
struct DeviceSampleJob;

struct EngineOptions {
  int max_sequences = 8;         // sequences running at once (cache slots)
  int64_t max_context = 4096;    // prompt + max_new_tokens of one request
  int64_t token_budget = 512;    // tokens per step; must be >= max_sequences so decodes always fit
  int64_t prefill_chunk = 256;   // prefill chunks end on multiples of this; the prefix store's block size
  int64_t kv_block_size = 16;
  int64_t kv_blocks = 0;         // KV pool size; 0: max_sequences full contexts
  size_t prefix_store_bytes = 0; // 0 disables prefix reuse
  int threads = 0;               // compute threads; <= 0: one per hardware thread
  // The cache's defaults, which `strata plan` and `strata info` report too (one dtype story).
  DType state_dtype = cache::CacheOptions{}.state_dtype;
  DType kv_dtype = cache::CacheOptions{}.kv_dtype;
  // The GPU the model lives on (Model::to_device); nullptr for a CPU model. The engine runs its steps on
  // this context's stream and samples every sequence of a step on the GPU in one call (DeviceSampler), so
  // only token ids and the requested log-probabilities come back to the host.
  CudaContext* cuda = nullptr;
};

struct EngineStats {
  uint64_t steps = 0;
  uint64_t submitted = 0, finished = 0, refused = 0, cancelled = 0;
  int64_t prompt_tokens = 0;           // of admitted requests
  int64_t prompt_tokens_computed = 0;  // prefilled through the model
  int64_t prompt_tokens_reused = 0;    // restored from the prefix store
  int64_t decode_tokens = 0;           // generated tokens fed back
  int64_t generated_tokens = 0;        // tokens sampled
  int64_t max_step_tokens = 0;         // largest step so far (<= token_budget)
  int64_t states_captured = 0;         // prefix-store inserts (boundaries and ends)
};

// The cache and the largest step an engine with these options builds: the Engine sizes itself from
// them, and so can a planner (strata plan) or a test that holds the plan to what is allocated.
cache::CacheOptions cache_options(const EngineOptions& options);
model::StepShape step_shape(const EngineOptions& options);

// What the last step ran, for tests and tracing.
struct StepReport {
  int64_t tokens = 0;
  int decode_sequences = 0, prefill_sequences = 0;
  int running = 0, queued = 0;  // after the step
};

class Engine {
 public:
  // Builds the caches (slots, KV pool) and the prefix store. Throws strata::Error for invalid options.
  Engine(const model::Model& model, EngineOptions options);
  ~Engine();  // stops the background thread; pending requests are dropped without events
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Queues a request; validation happens on the next step (a bad request gets a finished/error event).
  RequestId submit(Request request);
  // Cancels a queued or running request (finished event with reason cancelled); false if unknown or
  // already finished.
  bool cancel(RequestId id);

  // One scheduler step: admits, runs one packed forward, samples, streams, retires. Returns whether any
  // work remains (running or queued requests).
  bool step();
  void run_until_idle();
  // Submits and steps until this request finishes (or, with the background thread running, waits).
  Result generate(std::vector<int32_t> prompt, const SamplingParams& params,
                  std::function<std::string(int32_t)> token_text = {});

  // A background thread that steps whenever there is work.
  void start();
  void stop();

  EngineStats stats() const;
  StepReport last_step() const;
  const EngineOptions& options() const { return options_; }
  // Accounting, for tests and monitoring (read on the stepping thread or when idle).
  int free_slots() const;
  int64_t free_kv_blocks() const;       // physically unused; -1 for models without attention
  int64_t total_kv_blocks() const;      // -1 for models without attention
  int64_t reserved_kv_blocks() const;   // promised to running sequences at admission
  const cache::PrefixStore* prefix_store() const { return prefix_store_.get(); }
  // A conversation's stored state, for saving it (`strata chat` /save): the longest stored prefix of
  // `tokens`; a miss when the store is disabled. And storing one back (/load), after checking the blob
  // is an intact snapshot of this model after exactly `tokens` (throws strata::Error saying what is
  // wrong). Both are safe from any thread (the store locks).
  cache::PrefixMatch stored_state(std::span<const int32_t> tokens);
  void store_state(std::span<const int32_t> tokens, cache::StateBlob state);
  // Bytes the engine's cache and workspace hold (the plan's figures, allocated).
  size_t cache_bytes() const { return cache_.allocated_bytes(); }
  size_t workspace_bytes() const { return workspace_.capacity(); }

 private:
  struct Sequence;
  using Clock = std::chrono::steady_clock;

  bool has_work_locked() const;
  void drain_inbox();
  std::optional<std::string> refusal_reason(const Sequence& sequence) const;
  void admit_from_queue();
  void admit(Sequence& sequence);
  void run_batch();
  void sample_and_stream(Sequence& sequence, const float* logits);
  // A GPU step: every job's row sampled in one DeviceSampler call, then streamed in job order.
  void sample_on_device(const Tensor& logits, std::span<const DeviceSampleJob> jobs,
                        std::span<Sequence* const> sequences);
  void stream_sample(Sequence& sequence, SampleResult sample);
  void finish(Sequence& sequence, FinishReason reason, std::string message);
  void announce_finished(Sequence& sequence);
  void retire_finished();
  void capture(const Sequence& sequence);
  void emit(Sequence& sequence, const Event& event);
  int64_t fed(const Sequence& sequence) const;  // tokens its state has consumed (the cache's position)

  const model::Model& model_;
  EngineOptions options_;
  model::SequenceCache cache_;
  Workspace workspace_;
  std::unique_ptr<DeviceSampler> device_sampler_;  // a GPU engine's sampler
  model::DecodeGraphs graphs_;       // a GPU engine's decode steps, captured per batch size
  std::unique_ptr<ThreadPool> pool_;
  std::unique_ptr<cache::PrefixStore> prefix_store_;

  // The inbox: filled by any thread, drained by the stepping thread.
  mutable std::mutex inbox_mutex_;
  std::condition_variable inbox_cv_;
  std::vector<std::unique_ptr<Sequence>> inbox_;
  std::vector<RequestId> cancels_;
  std::unordered_set<RequestId> live_;  // submitted and not yet finished
  RequestId next_id_ = 1;
  bool stopping_ = false;

  // Owned by the stepping thread.
  std::deque<std::unique_ptr<Sequence>> queue_;    // waiting for admission, FIFO
  std::vector<std::unique_ptr<Sequence>> running_;  // admitted, in arrival order
  mutable std::mutex stats_mutex_;
  EngineStats stats_;
  StepReport last_step_;

  std::thread thread_;
  std::atomic<bool> thread_running_{false};
};

}  // namespace strata::engine
