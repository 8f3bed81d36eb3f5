// Server: strata's OpenAI-compatible HTTP face over one Engine (cpp-httplib). POST /v1/chat/completions
// and /v1/completions (streamed as server-sent events or whole), GET /v1/models, /health and /metrics.
// Every request becomes one engine request per choice, submitted from the HTTP thread and fed back by
// the engine thread through a per-request channel, so no request waits for another; a client that
// drops its stream has its requests cancelled at once. Errors are OpenAI-shaped (api_error.h).
// Follow-up chat turns reuse the stored state of the earlier prompt + answer through the engine's
// prefix store, and report it as usage.prompt_tokens_details.cached_tokens.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "strata/engine/engine.h"
#include "strata/engine/session.h"
#include "strata/server/metrics.h"
#include "strata/tokenizer/tokenizer.h"

namespace httplib {
class Server;
}

namespace strata::server {

struct GenerationRequest;
struct Call;

// Renders a chat request's messages (with tools, template switches and add_generation_prompt) into
// prompt text; throws strata::Error (reported as 400) when the template rejects them.
// Key order is kept (ordered_json) so templates print tool schemas as the client wrote them.
using ChatRenderer = std::function<std::string(const nlohmann::ordered_json& messages, const nlohmann::ordered_json& tools,
                                               const nlohmann::ordered_json& template_kwargs, bool add_generation_prompt)>;

struct ServerOptions {
  std::string model_name = "strata";  // the id /v1/models lists and requests must name (or omit)
  int http_threads = 64;              // concurrent connections served (streams hold one each)
  int max_queue = 256;                // requests waiting beyond the engine's slots before 429
  size_t max_body_bytes = 8 << 20;
};

class Server {
 public:
  // The engine must have its background thread running (Engine::start) while the server serves.
  Server(const tokenizer::Tokenizer& tokenizer, engine::Engine& engine, ChatRenderer chat, ServerOptions options);
  ~Server();

  // Binds host:port (port 0: any free port) and returns the port; throws strata::Error if it cannot.
  int bind(const std::string& host, int port);
  // Serves until stop(); returns when every handler has returned.
  void listen();
  // Cancels every running request (their streams end with finish_reason "abort"), stops accepting,
  // and makes listen() return. Safe from any thread.
  void stop();

  const Metrics& metrics() const { return metrics_; }

 private:

  void install_routes();
  void handle_generation(const std::string& endpoint, const nlohmann::json& body, const nlohmann::ordered_json& ordered,
                         void* response);
  std::shared_ptr<Call> start_call(const GenerationRequest& request);
  EngineGauges gauges() const;
  void forget(const std::shared_ptr<Call>& call);

  const tokenizer::Tokenizer& tokenizer_;
  engine::Engine& engine_;
  engine::Session session_;
  ChatRenderer chat_;
  ServerOptions options_;
  Metrics metrics_;
  std::unique_ptr<httplib::Server> http_;
  int listen_socket_ = -1;  // the listening socket, seen through the socket-options hook
  std::atomic<bool> stopping_{false};
  std::atomic<int64_t> in_flight_{0};
  std::atomic<uint64_t> next_id_{1};
  mutable std::mutex calls_mutex_;
  std::set<std::shared_ptr<Call>> calls_;
};

}  // namespace strata::server
