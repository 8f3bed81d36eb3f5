// `strata serve [MODEL_DIR] [--host H] [--port P] [engine flags]`: the OpenAI-compatible server
// (src/strata/server/) over one continuous-batching engine. SIGINT/SIGTERM stop it gracefully: running
// requests are cancelled (streams end with finish_reason "abort"), then it exits 0.
#include "device_option.h"
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include <unistd.h>

#include <cerrno>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "command_registry.h"
#include "model_dir.h"
#include "strata/core/error.h"
#include "strata/engine/engine.h"
#include "strata/model/model.h"
#include "strata/server/chat_renderer.h"
#include "strata/server/server.h"
#include "strata/tokenizer/tokenizer.h"

#ifndef STRATA_DEFAULT_MODEL_DIR
#define STRATA_DEFAULT_MODEL_DIR "models/demo"
#endif

namespace strata::cli {
namespace {

int g_signal_pipe[2] = {-1, -1};

void on_signal(int signal) {
  const unsigned char byte = static_cast<unsigned char>(signal);
  if (write(g_signal_pipe[1], &byte, 1) < 0) {
  }
}

struct ServeArgs {
  std::string model_dir, host = "127.0.0.1", model_name, chat_template;
  DeviceArgs device;
  int port = 8080;
  int max_sequences = 8, threads = 0, http_threads = 64, max_queue = 256;
  int64_t context = 4096, token_budget = 512, prefill_chunk = 256;
  int64_t prefix_cache_mib = 1024;
};

void run(const ServeArgs& a) {
  if (a.max_sequences < 1) fail("--max-sequences must be >= 1, got {}", a.max_sequences);
  if (a.context < 2) fail("--context must be >= 2, got {}", a.context);
  if (a.prefix_cache_mib < 0) fail("--prefix-cache-mib must be >= 0, got {}", a.prefix_cache_mib);
  if (a.max_queue < 0) fail("--max-queue must be >= 0, got {}", a.max_queue);
  const std::filesystem::path dir = resolve_model_dir(a.model_dir);
  const auto tokenizer = load_model_tokenizer(dir);
  const auto model = model::Model::load(dir);
  const Placement placement = place_model(*model, a.device);
  server::ChatRenderer chat = server::load_chat_renderer(dir, tokenizer, a.chat_template);

  engine::EngineOptions options;
  options.max_sequences = a.max_sequences;
  options.max_context = a.context;
  options.token_budget = std::max<int64_t>(a.token_budget, a.max_sequences);
  options.prefill_chunk = a.prefill_chunk;
  options.prefix_store_bytes = static_cast<size_t>(a.prefix_cache_mib) << 20;
  options.threads = a.threads;
  options.cuda = placement.cuda.get();
  engine::Engine engine(*model, options);

  server::ServerOptions server_options;
  server_options.model_name = a.model_name.empty() ? std::filesystem::absolute(dir).lexically_normal().filename().string()
                                                   : a.model_name;
  if (server_options.model_name.empty()) server_options.model_name = "strata";
  server_options.http_threads = a.http_threads;
  server_options.max_queue = a.max_queue;

  const bool templated = static_cast<bool>(chat);
  server::Server server(tokenizer, engine, std::move(chat), server_options);
  const int port = server.bind(a.host, a.port);
  engine.start();
  // SIGINT/SIGTERM: the handler only writes the signal number to a pipe (async-signal-safe); a waiter
  // thread reads it and stops the server, which makes listen() return.
  if (pipe(g_signal_pipe) != 0) fail("cannot create the signal pipe");
  struct sigaction action {};
  action.sa_handler = on_signal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
  std::thread waiter([&server] {
    unsigned char signal = 0;
    while (read(g_signal_pipe[0], &signal, 1) < 0 && errno == EINTR) {
    }
    if (signal == 0) return;  // woken by the exit path, not a signal
    std::fprintf(stderr, "strata serve: %s, stopping\n", signal == SIGINT ? "SIGINT" : "SIGTERM");
    server.stop();
  });
  std::fprintf(stderr, "%s", fmt::format("strata serve: model '{}' ({}) on http://{}:{} — {} sequences, context {}, "
                                         "chat template {}\n", server_options.model_name, model->config().model_type,
                                         a.host, port, a.max_sequences, a.context,
                                         templated ? "yes" : "none").c_str());
  std::fflush(stderr);
  server.listen();
  engine.stop();
  // listen() also returns when the socket fails; wake the waiter so the process can exit.
  const unsigned char wake = 0;
  if (write(g_signal_pipe[1], &wake, 1) < 0) {
  }
  waiter.join();
  std::fprintf(stderr, "strata serve: stopped\n");
}

const CommandRegistration registration(12, [](CLI::App& app) {
  auto a = std::make_shared<ServeArgs>();
  CLI::App* cmd = app.add_subcommand("serve", "Serve the model over an OpenAI-compatible HTTP API");
  cmd->add_option("MODEL_DIR", a->model_dir, "Hugging Face model directory or GGUF file (default: $STRATA_MODEL or the bundled demo model)");
  cmd->add_option("--host", a->host, "address to listen on")->capture_default_str();
  cmd->add_option("--port", a->port, "port (0 = any free port)")->capture_default_str();
  cmd->add_option("--model-name", a->model_name, "the model id clients use (default: the directory's name)");
  cmd->add_option("--chat-template", a->chat_template, "a Jinja chat template file to use instead of the model's");
  cmd->add_option("--max-sequences", a->max_sequences, "sequences generating at once")->capture_default_str();
  cmd->add_option("--context", a->context, "tokens per sequence (prompt + answer)")->capture_default_str();
  cmd->add_option("--token-budget", a->token_budget, "tokens per engine step")->capture_default_str();
  cmd->add_option("--prefill-chunk", a->prefill_chunk, "prefill chunk (and stored-state granularity)")->capture_default_str();
  cmd->add_option("--prefix-cache-mib", a->prefix_cache_mib, "memory for stored conversation states (0 = off)")->capture_default_str();
  cmd->add_option("--max-queue", a->max_queue, "requests waiting beyond the running ones before 429")->capture_default_str();
  cmd->add_option("--http-threads", a->http_threads, "concurrent connections")->capture_default_str();
  add_device_options(cmd, a->device);
  cmd->add_option("-t,--threads", a->threads, "compute threads (0 = all cores)");
  cmd->callback([a] { run(*a); });
});

}  // namespace
}  // namespace strata::cli
