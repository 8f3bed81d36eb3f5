#include "strata/engine/engine.h"

#include <algorithm>
#include <future>

#include "strata/cache/snapshot.h"
#include "strata/core/cuda_context.h"
#include "strata/core/error.h"
#include "strata/engine/device_sampler.h"
#include "strata/engine/sampling_stop.h"
#include "strata/engine/step_plan.h"

namespace strata::engine {

const char* finish_reason_name(FinishReason reason) {
  switch (reason) {
    case FinishReason::stop: return "stop";
    case FinishReason::length: return "length";
    case FinishReason::cancelled: return "cancelled";
    case FinishReason::error: return "error";
  }
  return "unknown";
}

struct Engine::Sequence {
  RequestId id = 0;
  std::vector<int32_t> tokens;  // the prompt, then every sampled token
  int64_t prompt_length = 0;
  int slot = -1;  // tokens[0, cache position) are in the slot's state; a decoding sequence has one more
  SamplingParams params;
  std::unique_ptr<Sampler> sampler;
  std::unique_ptr<StopChecker> stop;
  EventCallback callback;
  std::function<std::string(int32_t)> token_text;
  RequestStats stats;
  Clock::time_point submitted;
  bool finished = false;
  // Finished, but its last sampled token is fed through the model in one more step before it retires,
  // so the stored end state covers the whole answer and a follow-up computes only its new tokens.
  bool flushing = false;
  bool state_valid = true;  // false after a failed forward: nothing of it goes into the prefix store
  FinishReason reason = FinishReason::stop;
  std::string message;
};

namespace {

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

}  // namespace

cache::CacheOptions cache_options(const EngineOptions& options) {
  return cache::CacheOptions{.max_sequences = options.max_sequences,
                             .max_context = options.max_context,
                             .kv_block_size = options.kv_block_size,
                             .kv_blocks = options.kv_blocks,
                             .speculative_tokens = 0,
                             .state_dtype = options.state_dtype,
                             .kv_dtype = options.kv_dtype};
}

model::StepShape step_shape(const EngineOptions& options) {
  return model::StepShape{.tokens = options.token_budget, .sequences = options.max_sequences, .kept_sequences = 0,
                          .kept_length = 0, .logit_rows = options.max_sequences};
}

Engine::Engine(const model::Model& model, EngineOptions options) : model_(model), options_(options) {
  if (options_.max_sequences < 1) fail("engine: max_sequences must be >= 1, got {}", options_.max_sequences);
  if (options_.max_context < 1) fail("engine: max_context must be >= 1, got {}", options_.max_context);
  if (options_.token_budget < options_.max_sequences)
    fail("engine: token_budget ({}) must be at least max_sequences ({}) so every running sequence can decode "
         "each step", options_.token_budget, options_.max_sequences);
  if (options_.prefill_chunk < 1) fail("engine: prefill_chunk must be >= 1, got {}", options_.prefill_chunk);
  if (options_.kv_block_size < 1) fail("engine: kv_block_size must be >= 1, got {}", options_.kv_block_size);
  if (options_.kv_blocks < 0) fail("engine: kv_blocks must be >= 0, got {}", options_.kv_blocks);
  if ((model_.device() == Device::cuda) != (options_.cuda != nullptr))
    fail("engine: the model is on the {} but the engine was {} a GPU context", device_name(model_.device()),
         options_.cuda ? "given" : "not given");
  cache_ = model_.make_cache(cache_options(options_));
  pool_ = std::make_unique<ThreadPool>(options_.threads);
  workspace_ = Workspace(model_.device());
  // The workspace is sized once for the largest step the budget allows (plus its logits), so steps
  // never allocate.
  workspace_.reserve(model_.workspace_bytes(step_shape(options_), pool_->size()) +
                     Workspace::rounded(static_cast<size_t>(options_.max_sequences * model_.vocab_size()) * sizeof(float)));
  if (options_.cuda) device_sampler_ = std::make_unique<DeviceSampler>(*options_.cuda);
  if (options_.prefix_store_bytes > 0 && cache_.can_capture())
    prefix_store_ = std::make_unique<cache::PrefixStore>(
        cache::PrefixStoreConfig{.block_size = options_.prefill_chunk, .byte_budget = options_.prefix_store_bytes});
}

Engine::~Engine() { stop(); }

RequestId Engine::submit(Request request) {
  auto sequence = std::make_unique<Sequence>();
  sequence->prompt_length = static_cast<int64_t>(request.prompt.size());
  sequence->tokens = std::move(request.prompt);
  sequence->params = std::move(request.sampling);
  sequence->callback = std::move(request.callback);
  sequence->token_text = std::move(request.token_text);
  sequence->submitted = Clock::now();
  RequestId id;
  {
    std::lock_guard lock(inbox_mutex_);
    id = next_id_++;
    sequence->id = id;
    live_.insert(id);
    inbox_.push_back(std::move(sequence));
  }
  {
    std::lock_guard lock(stats_mutex_);
    ++stats_.submitted;
  }
  inbox_cv_.notify_all();
  return id;
}

bool Engine::cancel(RequestId id) {
  {
    std::lock_guard lock(inbox_mutex_);
    if (!live_.count(id)) return false;
    cancels_.push_back(id);
  }
  inbox_cv_.notify_all();
  return true;
}

std::optional<std::string> Engine::refusal_reason(const Sequence& s) const {
  if (s.tokens.empty()) return "the prompt is empty; at least one token is needed";
  const int64_t V = model_.vocab_size();
  for (size_t i = 0; i < s.tokens.size(); ++i)
    if (s.tokens[i] < 0 || s.tokens[i] >= V)
      return fmt::format("prompt token id {} at position {} is outside the vocabulary [0, {})", s.tokens[i], i, V);
  try {
    s.params.validate();
  } catch (const Error& e) {
    return std::string(e.what());
  }
  if (!s.params.stop_strings.empty() && !s.token_text)
    return "stop_strings need the text of each token: give the request a token_text function, or use stop_token_ids";
  const int64_t total = s.prompt_length + s.params.max_new_tokens;
  if (total > options_.max_context)
    return fmt::format("prompt of {} tokens plus max_new_tokens {} is {} tokens, more than max_context {}",
                       s.prompt_length, s.params.max_new_tokens, total, options_.max_context);
  if (!cache_.could_ever_fit(total))
    return fmt::format("prompt of {} tokens plus max_new_tokens {} needs {} KV blocks of {} tokens, but the pool "
                       "holds only {}", s.prompt_length, s.params.max_new_tokens, cache_.kv->blocks_needed(total),
                       cache_.kv->block_size(), cache_.kv->num_blocks());
  return std::nullopt;
}

void Engine::emit(Sequence& sequence, const Event& event) {
  if (sequence.callback) sequence.callback(event);
}

void Engine::finish(Sequence& sequence, FinishReason reason, std::string message) {
  if (sequence.finished) return;
  sequence.finished = true;
  sequence.reason = reason;
  sequence.message = std::move(message);
  // A completed answer whose state will be stored feeds its last token first (its KV position is within
  // the admission reservation: prompt + max_new_tokens).
  sequence.flushing = prefix_store_ && sequence.state_valid && sequence.slot >= 0 &&
                      (reason == FinishReason::stop || reason == FinishReason::length) &&
                      fed(sequence) + 1 == static_cast<int64_t>(sequence.tokens.size());
}

// Sends the finished event of a sequence that holds no cache resources (anymore).
void Engine::announce_finished(Sequence& sequence) {
  sequence.stats.total_seconds = seconds_since(sequence.submitted);
  sequence.stats.generated_tokens = static_cast<int64_t>(sequence.tokens.size()) - sequence.prompt_length;
  {
    std::lock_guard lock(inbox_mutex_);
    live_.erase(sequence.id);
  }
  {
    std::lock_guard lock(stats_mutex_);
    ++stats_.finished;
    if (sequence.reason == FinishReason::cancelled) ++stats_.cancelled;
  }
  Event event;
  event.kind = Event::Kind::finished;
  event.id = sequence.id;
  event.reason = sequence.reason;
  event.message = sequence.message;
  event.stats = sequence.stats;
  emit(sequence, event);
}

void Engine::drain_inbox() {
  std::vector<std::unique_ptr<Sequence>> arrivals;
  std::vector<RequestId> cancels;
  {
    std::lock_guard lock(inbox_mutex_);
    arrivals.swap(inbox_);
    cancels.swap(cancels_);
  }
  for (auto& sequence : arrivals) {
    std::optional<std::string> refusal = refusal_reason(*sequence);
    if (!refusal) {
      try {
        sequence->sampler = std::make_unique<Sampler>(sequence->params, sequence->tokens);
        std::vector<int32_t> eos;
        if (model_.config().eos_token_id) eos.push_back(static_cast<int32_t>(*model_.config().eos_token_id));
        sequence->stop = std::make_unique<StopChecker>(sequence->params, eos);
      } catch (const Error& e) {
        refusal = e.what();
      }
    }
    if (refusal) {
      {
        std::lock_guard lock(stats_mutex_);
        ++stats_.refused;
      }
      finish(*sequence, FinishReason::error, "request refused: " + *refusal);
      announce_finished(*sequence);
      continue;
    }
    sequence->stats.prompt_tokens = sequence->prompt_length;
    queue_.push_back(std::move(sequence));
  }
  for (const RequestId id : cancels) {
    auto queued = std::find_if(queue_.begin(), queue_.end(), [&](const auto& s) { return s->id == id; });
    if (queued != queue_.end()) {
      finish(**queued, FinishReason::cancelled, "cancelled while queued");
      announce_finished(**queued);
      queue_.erase(queued);
      continue;
    }
    for (auto& sequence : running_)
      if (sequence->id == id) finish(*sequence, FinishReason::cancelled, "cancelled");
  }
}

void Engine::admit_from_queue() {
  while (!queue_.empty() && static_cast<int>(running_.size()) < options_.max_sequences) {
    Sequence& next = *queue_.front();
    // Strict FIFO: a large request at the head waits for room rather than being overtaken forever.
    if (!cache_.can_promise(next.prompt_length + next.params.max_new_tokens)) break;
    admit(next);
    running_.push_back(std::move(queue_.front()));
    queue_.pop_front();
  }
}

void Engine::admit(Sequence& sequence) {
  const int64_t total = sequence.prompt_length + sequence.params.max_new_tokens;
  sequence.slot = cache_.allocate();
  cache_.promise(sequence.slot, total);  // admit_from_queue checked that it can be kept
  sequence.stats.queue_seconds = seconds_since(sequence.submitted);
  if (prefix_store_ && sequence.prompt_length > 1) {
    // Leave at least one prompt token to compute: its logits give the first sampled token.
    try {
      cache_.resume_from_prefix(*prefix_store_, sequence.slot, sequence.tokens, sequence.prompt_length - 1);
    } catch (const Error&) {
      // A state that does not fit (cannot happen for blobs this engine stored) is a miss.
      cache_.free(sequence.slot);
      sequence.slot = cache_.allocate();
      cache_.promise(sequence.slot, total);
    }
  }
  const int64_t reused = fed(sequence);
  sequence.stats.reused_tokens = reused;
  std::lock_guard lock(stats_mutex_);
  stats_.prompt_tokens += sequence.prompt_length;
  stats_.prompt_tokens_reused += reused;
}

cache::PrefixMatch Engine::stored_state(std::span<const int32_t> tokens) {
  if (!prefix_store_ || tokens.empty()) return {};
  return prefix_store_->lookup(tokens);
}

void Engine::store_state(std::span<const int32_t> tokens, cache::StateBlob state) {
  if (!prefix_store_) fail("this engine keeps no states (its prefix store is disabled)");
  if (tokens.empty()) fail("a stored state needs the tokens it follows");
  const cache::SnapshotInfo info = cache::parse_snapshot(state);
  if (info.model_id != model_.identity())
    fail("the state belongs to another model ({}), not this one ({})", info.model_id, model_.identity());
  if (info.position != static_cast<int64_t>(tokens.size()))
    fail("the state follows {} tokens but {} tokens were given with it", info.position, tokens.size());
  if (!prefix_store_->insert(tokens, std::move(state)))
    fail("the state ({} tokens) does not fit the prefix store; start with a larger one", tokens.size());
}

void Engine::capture(const Sequence& sequence) {
  const int64_t consumed = fed(sequence);
  if (!prefix_store_ || !sequence.state_valid || consumed == 0) return;
  cache_.capture_prefix(*prefix_store_, sequence.slot,
                        std::span<const int32_t>(sequence.tokens.data(), static_cast<size_t>(consumed)));
  std::lock_guard lock(stats_mutex_);
  ++stats_.states_captured;
}

void Engine::sample_and_stream(Sequence& sequence, const float* logits) {
  SampleResult sample;
  try {
    sample = sequence.sampler->sample(std::span<const float>(logits, static_cast<size_t>(model_.vocab_size())));
  } catch (const Error& e) {
    finish(sequence, FinishReason::error, fmt::format("sampling failed: {}", e.what()));
    return;
  }
  stream_sample(sequence, std::move(sample));
}

void Engine::sample_on_device(const Tensor& logits, std::span<const DeviceSampleJob> jobs,
                              std::span<Sequence* const> sequences) {
  std::vector<DeviceSampleOutcome> outcomes;
  try {
    outcomes = device_sampler_->sample(logits, jobs);
  } catch (const Error& e) {
    for (Sequence* sequence : sequences)
      finish(*sequence, FinishReason::error, fmt::format("sampling failed: {}", e.what()));
    return;
  }
  for (size_t j = 0; j < sequences.size(); ++j) {
    if (!outcomes[j].ok()) {
      finish(*sequences[j], FinishReason::error, fmt::format("sampling failed: {}", outcomes[j].error));
      continue;
    }
    stream_sample(*sequences[j], std::move(outcomes[j].result));
  }
}

void Engine::stream_sample(Sequence& sequence, SampleResult sample) {
  sequence.tokens.push_back(sample.token_id);
  const int64_t generated = static_cast<int64_t>(sequence.tokens.size()) - sequence.prompt_length;
  if (generated == 1) sequence.stats.first_token_seconds = seconds_since(sequence.submitted);
  {
    std::lock_guard lock(stats_mutex_);
    ++stats_.generated_tokens;
  }
  StopUpdate update;
  try {
    update = sequence.stop->on_token(sample.token_id, sequence.token_text ? sequence.token_text(sample.token_id) : "");
  } catch (const std::exception& e) {
    finish(sequence, FinishReason::error, fmt::format("detokenising token {} failed: {}", sample.token_id, e.what()));
    return;
  }
  Event event;
  event.kind = Event::Kind::token;
  event.id = sequence.id;
  event.token = sample.token_id;
  event.logprob = sample.logprob;
  event.top_logprobs = std::move(sample.top_logprobs);
  event.text = std::move(update.text);
  emit(sequence, event);

  switch (update.reason) {
    case StopReason::none: break;
    case StopReason::eos_token:
      finish(sequence, FinishReason::stop, fmt::format("end-of-sequence token {}", update.stop_token_id));
      break;
    case StopReason::stop_token:
      finish(sequence, FinishReason::stop, fmt::format("stop token {}", update.stop_token_id));
      break;
    case StopReason::stop_string:
      finish(sequence, FinishReason::stop, fmt::format("stop string \"{}\"", update.stop_string));
      break;
    case StopReason::max_new_tokens:
      finish(sequence, FinishReason::length, fmt::format("max_new_tokens {} reached", sequence.params.max_new_tokens));
      break;
  }
}

void Engine::run_batch() {
  std::vector<Sequence*> active;
  std::vector<SequenceProgress> progress;
  for (auto& sequence : running_)
    if (!sequence->finished || sequence->flushing) {
      active.push_back(sequence.get());
      progress.push_back({.fed = fed(*sequence), .prompt_length = sequence->prompt_length});
    }
  last_step_ = StepReport{};
  if (active.empty()) return;
  const std::vector<PlannedStep> plan = plan_step(progress, options_.token_budget, options_.prefill_chunk);

  std::vector<int32_t> tokens;
  std::vector<model::SequenceStep> steps;
  for (const PlannedStep& p : plan) {
    const Sequence& s = *active[p.index];
    const int64_t from = progress[p.index].fed;
    tokens.insert(tokens.end(), s.tokens.begin() + from, s.tokens.begin() + from + p.length);
    steps.push_back({.slot = s.slot, .length = p.length, .all_logits = false});
    ++(p.decode ? last_step_.decode_sequences : last_step_.prefill_sequences);
  }
  last_step_.tokens = static_cast<int64_t>(tokens.size());
  if (tokens.empty()) return;

  const model::ForwardBatch batch{.tokens = tokens, .sequences = steps};
  workspace_.reset();
  Tensor logits = workspace_.take(DType::f32, {model::Model::logits_rows(batch), model_.vocab_size()});
  try {
    if (options_.cuda) {
      model_.forward(batch, cache_, logits, workspace_, Exec(*options_.cuda, *pool_), &graphs_);
    } else {
      model_.forward(batch, cache_, logits, workspace_, Exec(*pool_));
    }
  } catch (const Error& e) {
    for (const PlannedStep& p : plan) {
      active[p.index]->state_valid = false;
      active[p.index]->flushing = false;
      finish(*active[p.index], FinishReason::error, fmt::format("forward failed: {}", e.what()));
    }
    return;
  }
  {
    std::lock_guard lock(stats_mutex_);
    ++stats_.steps;
    stats_.max_step_tokens = std::max(stats_.max_step_tokens, last_step_.tokens);
    for (const PlannedStep& p : plan) (p.decode ? stats_.decode_tokens : stats_.prompt_tokens_computed) += p.length;
  }
  // On the GPU the rows to sample are gathered and sampled together once every row is seen.
  std::vector<DeviceSampleJob> device_jobs;
  std::vector<Sequence*> device_sequences;
  for (size_t row = 0; row < plan.size(); ++row) {
    const PlannedStep& p = plan[row];
    Sequence& s = *active[p.index];
    const int64_t consumed = fed(s);  // the cache advanced it in forward
    if (!p.decode) {
      s.stats.computed_tokens += p.length;
      if (consumed % options_.prefill_chunk == 0) capture(s);
    }
    if (s.flushing) {  // its last token is now in the state; it retires (and is captured) this step
      s.flushing = false;
      continue;
    }
    // Logits of the step's last token are the next token's distribution once every known token is fed.
    if (consumed != static_cast<int64_t>(s.tokens.size())) continue;
    if (options_.cuda) {
      device_jobs.push_back({.sampler = s.sampler.get(), .row = static_cast<int64_t>(row)});
      device_sequences.push_back(&s);
    } else {
      sample_and_stream(s, logits.ptr<float>() + static_cast<int64_t>(row) * model_.vocab_size());
    }
  }
  if (!device_jobs.empty()) sample_on_device(logits, device_jobs, device_sequences);
}

void Engine::retire_finished() {
  for (auto it = running_.begin(); it != running_.end();) {
    Sequence& s = **it;
    if (!s.finished || s.flushing) {
      ++it;
      continue;
    }
    // The exact end: the state after every token fed (with the last sampled token, once flushed), for a
    // follow-up turn that extends this conversation.
    capture(s);
    cache_.free(s.slot);
    s.slot = -1;
    std::unique_ptr<Sequence> owned = std::move(*it);
    it = running_.erase(it);
    announce_finished(*owned);
  }
}

bool Engine::step() {
  drain_inbox();
  retire_finished();  // cancelled ones free their slots before admission
  admit_from_queue();
  run_batch();
  retire_finished();
  admit_from_queue();  // slots freed this step are taken now, so the next step's plan sees them
  last_step_.running = static_cast<int>(running_.size());
  last_step_.queued = static_cast<int>(queue_.size());
  std::lock_guard lock(inbox_mutex_);
  return has_work_locked();
}

bool Engine::has_work_locked() const {
  return !queue_.empty() || !running_.empty() || !inbox_.empty() || !cancels_.empty();
}

void Engine::run_until_idle() {
  while (step()) {
  }
}

Result Engine::generate(std::vector<int32_t> prompt, const SamplingParams& params,
                        std::function<std::string(int32_t)> token_text) {
  auto result = std::make_shared<Result>();
  auto done = std::make_shared<std::promise<void>>();
  std::future<void> finished = done->get_future();
  bool complete = false;
  Request request;
  request.prompt = std::move(prompt);
  request.sampling = params;
  request.token_text = std::move(token_text);
  request.callback = [result, done, &complete](const Event& event) {
    if (event.kind == Event::Kind::token) {
      result->tokens.push_back(event.token);
      result->logprobs.push_back(event.logprob);
      result->text += event.text;
      return;
    }
    result->reason = event.reason;
    result->message = event.message;
    result->stats = event.stats;
    complete = true;
    done->set_value();
  };
  submit(std::move(request));
  if (thread_running_) {
    finished.wait();
  } else {
    while (!complete) step();
  }
  return std::move(*result);
}

void Engine::start() {
  if (thread_running_) return;
  {
    std::lock_guard lock(inbox_mutex_);
    stopping_ = false;
  }
  thread_running_ = true;
  thread_ = std::thread([this] {
    for (;;) {
      {
        std::unique_lock lock(inbox_mutex_);
        inbox_cv_.wait(lock, [&] { return stopping_ || has_work_locked(); });
        if (stopping_) return;
      }
      step();
    }
  });
}

void Engine::stop() {
  if (!thread_running_) return;
  {
    std::lock_guard lock(inbox_mutex_);
    stopping_ = true;
  }
  inbox_cv_.notify_all();
  thread_.join();
  thread_running_ = false;
}

EngineStats Engine::stats() const {
  std::lock_guard lock(stats_mutex_);
  return stats_;
}

StepReport Engine::last_step() const { return last_step_; }

int Engine::free_slots() const { return cache_.free_slot_count(); }

int64_t Engine::free_kv_blocks() const { return cache_.kv ? cache_.kv->free_block_count() : -1; }
int64_t Engine::total_kv_blocks() const { return cache_.kv ? cache_.kv->num_blocks() : -1; }
int64_t Engine::reserved_kv_blocks() const { return cache_.promised_blocks(); }

int64_t Engine::fed(const Sequence& sequence) const {
  return sequence.slot >= 0 ? cache_.position(sequence.slot) : 0;
}

}  // namespace strata::engine
