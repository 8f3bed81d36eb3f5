// `strata bench (MODEL_DIR | --synthetic NAME) [-p 512,2048] [-n 128] [-b 1,8] [--threads T] [--json]`:
// prefill and decode throughput, llama-bench style. Prefill runs each batch of prompts through the model in
// packed steps of at most --ubatch tokens; decode then generates -n tokens per sequence one step at a time
// (each step one token of every sequence), timing the forward passes only.
#include "device_option.h"
#include <chrono>
#include <functional>
#include <iostream>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "command_registry.h"
#include "model_dir.h"
#include "progress.h"
#include "strata/core/error.h"
#include "strata/core/thread_pool.h"
#include "strata/model/model.h"
#include "strata/model/synthetic.h"

namespace strata::cli {
namespace {

struct BenchArgs {
  std::string model_dir, synthetic;
  std::vector<int64_t> prompts{512}, batches{1};
  int64_t generate = 128, ubatch = 512;
  int threads = 0, repetitions = 1;
  bool json = false;
  DeviceArgs device;
};

struct Result {
  int64_t batch, tokens;
  std::string test;  // "pp512" or "tg128"
  double seconds;
};

using Clock = std::chrono::steady_clock;

// Steps run_one takes: the prompt in chunks of ubatch tokens (over all sequences), then one per token.
int64_t steps_of(int64_t batch, int64_t prompt, int64_t generate, int64_t ubatch) {
  const int64_t chunk = std::max<int64_t>(1, ubatch / batch);
  return (prompt + chunk - 1) / chunk + generate;
}

std::vector<Result> run_one(const model::Model& m, int64_t batch, int64_t prompt, int64_t generate, int64_t ubatch,
                            const Exec& exec, const std::function<void()>& on_step) {
  model::CacheOptions options;
  options.max_sequences = static_cast<int>(batch);
  options.max_context = prompt + generate;
  model::SequenceCache cache = m.make_cache(options);
  std::vector<int32_t> slots;
  for (int64_t b = 0; b < batch; ++b) slots.push_back(cache.allocate());
  std::mt19937 rng(42);
  std::uniform_int_distribution<int32_t> token(0, static_cast<int32_t>(m.vocab_size() - 1));
  Workspace ws(m.device());
  model::DecodeGraphs graphs;  // GPU decode steps replay as CUDA graphs, as in the engine
  std::vector<int32_t> tokens;
  std::vector<model::SequenceStep> steps;

  auto step = [&](int64_t per_sequence) {
    tokens.clear();
    steps.clear();
    for (int64_t b = 0; b < batch; ++b) {
      for (int64_t i = 0; i < per_sequence; ++i) tokens.push_back(token(rng));
      steps.push_back({.slot = slots[static_cast<size_t>(b)], .length = per_sequence, .all_logits = false});
    }
    const model::ForwardBatch fb{tokens, steps};
    ws.reset();
    Tensor logits = ws.take(DType::f32, {model::Model::logits_rows(fb), m.vocab_size()});
    const auto start = Clock::now();
    m.forward(fb, cache, logits, ws, exec, exec.device() == Device::cuda ? &graphs : nullptr);
    if (exec.device() == Device::cuda) exec.cuda().synchronize();  // the step is done when the GPU is
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    on_step();
    return seconds;
  };

  std::vector<Result> results;
  const int64_t chunk = std::max<int64_t>(1, ubatch / batch);
  double prefill = 0;
  for (int64_t done = 0; done < prompt;) {
    const int64_t n = std::min(chunk, prompt - done);
    prefill += step(n);
    done += n;
  }
  if (prompt > 0) results.push_back({batch, batch * prompt, fmt::format("pp{}", prompt), prefill});
  // On a GPU the first two decode steps run eagerly and capture the step's CUDA graph; like a warm-up
  // run they are left out of the timing (when there are more than two).
  const int64_t untimed = exec.device() == Device::cuda && generate > 2 ? 2 : 0;
  double decode = 0;
  for (int64_t i = 0; i < generate; ++i) {
    const double seconds = step(1);
    if (i >= untimed) decode += seconds;
  }
  if (generate > 0)
    results.push_back({batch, batch * (generate - untimed), fmt::format("tg{}", generate), decode});
  return results;
}

void run(const BenchArgs& a) {
  if (a.model_dir.empty() == a.synthetic.empty()) fail("give either MODEL_DIR or --synthetic NAME");
  if (a.generate < 0 || a.ubatch < 1 || a.repetitions < 1 || a.threads < 0)
    fail("-n must be >= 0, --ubatch >= 1, -r >= 1 and --threads >= 0");
  for (int64_t p : a.prompts) if (p < 0) fail("-p values must be >= 0, got {}", p);
  for (int64_t b : a.batches) if (b < 1 || b > 4096) fail("-b values must be in [1, 4096], got {}", b);
  ThreadPool pool(a.threads);
  const std::string label = a.synthetic.empty() ? a.model_dir : "synthetic:" + a.synthetic;
  const auto m = a.synthetic.empty() ? model::Model::load(checked_model_dir(a.model_dir)) : model::synthetic_model(a.synthetic, pool);
  const Placement placement = place_model(*m, a.device);
  const Exec exec = placement.exec(pool);
  const double params = static_cast<double>(m->parameter_count());

  nlohmann::ordered_json rows = nlohmann::ordered_json::array();
  if (!a.json)
    std::cout << fmt::format("| {:<24} | {:>8} | {:>7} | {:>5} | {:>8} | {:>14} |\n", "model", "params", "threads",
                             "batch", "test", "tokens/s");
  for (int64_t batch : a.batches)
    for (int64_t prompt : a.prompts) {
      std::vector<double> best;
      std::vector<Result> results;
      Progress progress(fmt::format("bench batch {}, prompt {}:", batch, prompt), "steps", a.json);
      const int64_t total = a.repetitions * steps_of(batch, prompt, a.generate, a.ubatch);
      int64_t done = 0;
      for (int r = 0; r < a.repetitions; ++r) {
        std::vector<Result> run =
            run_one(*m, batch, prompt, a.generate, a.ubatch, exec, [&] { progress.update(++done, total); });
        if (results.empty()) results = run;
        for (size_t i = 0; i < run.size(); ++i) results[i].seconds = std::min(results[i].seconds, run[i].seconds);
      }
      progress.clear();
      for (const Result& r : results) {
        // The decode result is the same for every prompt length only if the context is; keep both.
        const double rate = static_cast<double>(r.tokens) / r.seconds;
        if (a.json) {
          rows.push_back({{"model", label}, {"parameters", m->parameter_count()}, {"threads", pool.size()},
                          {"batch", r.batch}, {"test", r.test}, {"prompt", prompt}, {"tokens", r.tokens},
                          {"seconds", r.seconds}, {"tokens_per_second", rate}});
        } else {
          std::cout << fmt::format("| {:<24} | {:>7.1f}M | {:>7} | {:>5} | {:>8} | {:>14.2f} |\n", label, params / 1e6,
                                   pool.size(), r.batch, r.test + (r.test[0] == 't' ? fmt::format("@{}", prompt) : ""),
                                   rate);
        }
      }
    }
  if (a.json) std::cout << nlohmann::ordered_json{{"results", rows}}.dump(2) << "\n";
}

const CommandRegistration registration(50, [](CLI::App& app) {
  auto args = std::make_shared<BenchArgs>();
  CLI::App* cmd = app.add_subcommand("bench", "Prefill and decode throughput (llama-bench style)");
  cmd->add_option("MODEL_DIR", args->model_dir, "Hugging Face model directory or GGUF file");
  std::string names;
  for (const auto& [name, description] : model::synthetic_model_names()) names += "\n  " + name + ": " + description;
  cmd->add_option("--synthetic", args->synthetic, "random weights in memory for a named shape:" + names);
  cmd->add_option("-p,--prompt", args->prompts, "prompt lengths (comma separated)")->delimiter(',');
  cmd->add_option("-n,--generate", args->generate, "tokens to decode per sequence");
  cmd->add_option("-b,--batch", args->batches, "sequences decoded together (comma separated)")->delimiter(',');
  cmd->add_option("--ubatch", args->ubatch, "most tokens in one prefill step");
  cmd->add_option("-r,--repetitions", args->repetitions, "runs per test; the fastest is reported");
  cmd->add_option("-t,--threads", args->threads, "worker threads (0 = all cores)");
  add_device_options(cmd, args->device);
  cmd->add_flag("--json", args->json, "Print one JSON object");
  cmd->callback([args] { run(*args); });
});

}  // namespace
}  // namespace strata::cli
