// `strata run [MODEL_DIR] (-p PROMPT | -f FILE) [-n N] [sampling flags] [--verbose]`: generates a
// continuation and streams it to stdout as it is produced. Without MODEL_DIR the bundled demo model
// (models/demo) is used. With --verbose, prefill and decode speeds go to stderr.
#include "device_option.h"
#include <atomic>
#include <chrono>
#include <csignal>
#include <future>
#include <optional>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "command_registry.h"
#include "model_dir.h"
#include "strata/io/gguf.h"
#include "strata/model/gguf_model.h"
#include "progress.h"
#include "text_file.h"
#include "strata/core/error.h"
#include "strata/engine/generation_defaults.h"
#include "strata/engine/engine.h"
#include "strata/engine/session.h"
#include "strata/tokenizer/tokenizer.h"

#ifndef STRATA_DEFAULT_MODEL_DIR
#define STRATA_DEFAULT_MODEL_DIR "models/demo"
#endif

namespace strata::cli {
namespace {

std::atomic<bool> g_interrupted{false};
void on_interrupt(int) { g_interrupted = true; }

// max_position_embeddings from config.json, when the model has one (a positive integer).
std::optional<int64_t> max_position_embeddings(const std::filesystem::path& dir) {
  nlohmann::json config;
  if (io::is_gguf_file(dir)) {
    config = model::gguf_hf_config(io::GgufFile::open(dir));  // its context_length
  } else {
    std::ifstream in(dir / "config.json", std::ios::binary);
    config = nlohmann::json::parse(in, nullptr, false);
  }
  if (config.is_discarded() || !config.is_object() || !config.contains("max_position_embeddings")) return std::nullopt;
  const nlohmann::json& value = config["max_position_embeddings"];
  if (!value.is_number_integer() || value.get<int64_t>() <= 0) return std::nullopt;
  return value.get<int64_t>();
}

struct RunArgs {
  std::string model_dir, prompt, prompt_file;
  std::set<std::string> given;  // generation_config keys whose flag was given (those override the model)
  engine::SamplingParams sampling;
  uint64_t seed = 0;
  bool has_seed = false, verbose = false, no_special = false, no_echo = false;
  DeviceArgs device;
  int threads = 0;
  int64_t max_context = 0;
};

void run(RunArgs a) {
  if (a.prompt.empty() == a.prompt_file.empty()) fail("give the prompt with either -p TEXT or -f FILE");
  if (!a.prompt_file.empty()) a.prompt = read_text_file(a.prompt_file);
  if (a.has_seed) a.sampling.seed = a.seed;
  if (a.threads < 0) fail("--threads must be >= 0 (0 = all cores), got {}", a.threads);

  const std::filesystem::path dir = resolve_model_dir(a.model_dir);
  // The model's own sampling defaults where no flag was given; flags win.
  const std::string sampling_summary = engine::apply_generation_defaults(
      engine::read_generation_defaults(dir), a.sampling, [&](const std::string& key) { return a.given.count(key) > 0; });
  a.sampling.validate();
  if (a.verbose) std::fprintf(stderr, "sampling: %s\n", sampling_summary.c_str());
  const auto tokenizer = load_model_tokenizer(dir);
  const auto model = model::Model::load(dir);
  const Placement placement = place_model(*model, a.device);
  // Encoded before the engine exists: the prompt's length sizes the engine's context.
  const std::vector<int32_t> prompt = engine::encode_prompt(tokenizer, a.prompt, /*add_special_tokens=*/!a.no_special);

  // The context limit, checked before any work: --max-context, else the model's max_position_embeddings
  // (pure recurrent models have none). A prompt that fills it is an error; -n past it is capped with a
  // warning (generation stops where the context ends, as llama.cpp's does), so the cache is sized for
  // what the request can use.
  const int64_t prompt_tokens = static_cast<int64_t>(prompt.size());
  const std::optional<int64_t> model_context = max_position_embeddings(dir);
  const int64_t limit = a.max_context > 0 ? a.max_context : model_context.value_or(0);
  const std::string limit_source =
      a.max_context > 0 ? "--max-context" : "the model's max_position_embeddings";
  if (a.max_context < 0) fail("--max-context must be >= 1 (0 = the model's), got {}", a.max_context);
  if (limit > 0 && prompt_tokens >= limit)
    fail("the prompt is {} tokens but the context is {} ({}): shorten the prompt or raise --max-context", prompt_tokens,
         limit, limit_source);
  if (limit > 0 && prompt_tokens + a.sampling.max_new_tokens > limit) {
    const int64_t room = limit - prompt_tokens;
    std::fprintf(stderr, "%s",
                 fmt::format("warning: prompt ({} tokens) + -n {} exceeds the context of {} ({}); generating at most "
                             "{} tokens (--max-context overrides)\n",
                             prompt_tokens, a.sampling.max_new_tokens, limit, limit_source, room)
                     .c_str());
    a.sampling.max_new_tokens = static_cast<int>(room);
  }

  engine::EngineOptions options;
  options.max_sequences = 1;
  options.max_context = prompt_tokens + a.sampling.max_new_tokens;
  options.token_budget = 512;
  options.threads = a.threads;
  options.cuda = placement.cuda.get();
  engine::Engine eng(*model, options);
  engine::Session session(tokenizer, eng);

  const auto start = std::chrono::steady_clock::now();
  // A prompt longer than one engine step shows its prefill on a terminal; the prompt is then echoed when
  // the first token comes, so the progress line never overwrites echoed text. The engine thread streams
  // tokens while this one draws, so both take `output`.
  Progress prefill("prefill", "tokens");
  const bool show_prefill = prefill.enabled() && prompt_tokens > options.token_budget;
  std::mutex output;
  bool echoed = a.no_echo;
  auto echo_prompt = [&] {
    prefill.clear();
    if (echoed) return;
    std::fwrite(a.prompt.data(), 1, a.prompt.size(), stdout);
    std::fflush(stdout);
    echoed = true;
  };
  if (!show_prefill) echo_prompt();
  // The engine steps on its own thread while this one waits, so Ctrl-C can stop the request cleanly: the
  // text so far, a newline, the --verbose summary, exit status 130.
  struct sigaction action {};
  action.sa_handler = on_interrupt;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  eng.start();
  std::promise<engine::Event> finished;
  std::future<engine::Event> done = finished.get_future();
  const engine::RequestId id = session.submit(prompt, a.sampling, [&](const engine::Event& event) {
    std::lock_guard lock(output);
    echo_prompt();
    if (event.kind == engine::Event::Kind::token) {
      std::fwrite(event.text.data(), 1, event.text.size(), stdout);
      std::fflush(stdout);
    } else {
      finished.set_value(event);
    }
  });
  bool cancelled = false;
  while (done.wait_for(std::chrono::milliseconds(20)) != std::future_status::ready) {
    if (g_interrupted && !cancelled) cancelled = eng.cancel(id);
    if (show_prefill) {
      const engine::EngineStats s = eng.stats();
      std::lock_guard lock(output);
      if (!echoed) prefill.update(s.prompt_tokens_computed + s.prompt_tokens_reused, prompt_tokens);
    }
  }
  const engine::Event end = done.get();
  eng.stop();
  std::fputc('\n', stdout);
  std::fflush(stdout);
  // An engine error (a refused or failed request) comes after the text streamed so far, as `error: ...`.
  if (end.reason == engine::FinishReason::error) fail("{}", end.message);
  const engine::RequestStats& stats = end.stats;
  if (a.verbose) {
    const double total = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const double first = stats.first_token_seconds;
    const double decode_seconds = std::max(1e-9, total - first);
    std::fprintf(stderr, "%s", fmt::format("prompt {} tokens ({} reused) in {:.3f} s: {:.1f} tokens/s prefill\n"
                                           "generated {} tokens in {:.3f} s: {:.1f} tokens/s decode\n",
                                           stats.prompt_tokens, stats.reused_tokens, first,
                                           static_cast<double>(stats.computed_tokens) / std::max(1e-9, first),
                                           stats.generated_tokens, decode_seconds,
                                           static_cast<double>(std::max<int64_t>(0, stats.generated_tokens - 1)) /
                                               decode_seconds).c_str());
  }
  if (cancelled) throw ExitStatus{130};
}

const CommandRegistration registration(10, [](CLI::App& app) {
  auto a = std::make_shared<RunArgs>();
  a->sampling.max_new_tokens = 128;
  CLI::App* cmd = app.add_subcommand("run", "Generate text from a prompt, streamed to stdout");
  cmd->add_option("MODEL_DIR", a->model_dir, "Hugging Face model directory or GGUF file (default: $STRATA_MODEL or the bundled demo model)");
  cmd->add_option("-p,--prompt", a->prompt, "the prompt text");
  cmd->add_option("-f,--file", a->prompt_file, "read the prompt from a file");
  cmd->add_option("-n,--max-tokens", a->sampling.max_new_tokens, "tokens to generate at most");
  cmd->add_option("--temperature,--temp", a->sampling.temperature, "0 = greedy");
  cmd->add_option("--top-k", a->sampling.top_k, "keep the k most likely tokens (0 = off)");
  cmd->add_option("--top-p", a->sampling.top_p, "nucleus sampling mass (1 = off)");
  cmd->add_option("--min-p", a->sampling.min_p, "drop tokens below min_p x the top probability (0 = off)");
  cmd->add_option("--repeat-penalty", a->sampling.repetition_penalty, "repetition penalty (1 = off)");
  cmd->add_option("--presence-penalty", a->sampling.presence_penalty, "OpenAI presence penalty");
  cmd->add_option("--frequency-penalty", a->sampling.frequency_penalty, "OpenAI frequency penalty");
  cmd->add_option("--seed", a->seed, "random seed (reproducible runs)")->each([a](const std::string&) { a->has_seed = true; });
  cmd->add_option("--stop", a->sampling.stop_strings, "stop when this text appears (repeatable)");
  cmd->add_flag("--ignore-eos", a->sampling.ignore_eos, "keep generating past the end-of-sequence token");
  cmd->add_flag("--no-echo", a->no_echo, "print only the continuation, not the prompt before it");
  cmd->add_flag("--no-special", a->no_special, "do not add BOS/EOS special tokens to the prompt");
  cmd->add_option("-t,--threads", a->threads, "worker threads (0 = all cores)");
  cmd->add_option("--max-context", a->max_context,
                  "context limit in tokens (0 = the model's max_position_embeddings; none for pure SSM models)");
  add_device_options(cmd, a->device);
  cmd->add_flag("-v,--verbose", a->verbose, "print prefill and decode speed to stderr");
  cmd->callback([a, cmd] {
    for (const auto& [key, flag] : {std::pair{"temperature", "--temperature"}, {"top_k", "--top-k"}, {"top_p", "--top-p"},
                                    {"min_p", "--min-p"}, {"repetition_penalty", "--repeat-penalty"}})
      if (cmd->count(flag) > 0) a->given.insert(key);
    run(*a);
  });
});

}  // namespace
}  // namespace strata::cli
