// A strata server on a loopback port over the bundled demo model, for the server tests: the model,
// tokenizer and engine it runs on, and an HTTP client pointed at it.
#pragma once

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "strata/engine/engine.h"
#include "strata/engine/session.h"
#include "strata/model/model.h"
#include "strata/server/server.h"
#include "strata/tokenizer/tokenizer.h"

namespace strata::server::testing {

inline std::string demo_dir() { return std::string(STRATA_SOURCE_DIR) + "/models/demo"; }

struct RunningServer {
  explicit RunningServer(engine::EngineOptions options = default_options(), ServerOptions server_options = named("demo"),
                         ChatRenderer chat = {})
      : tokenizer(tokenizer::Tokenizer::load(demo_dir() + "/tokenizer.json")),
        model(model::Model::load(demo_dir())),
        engine(*model, options),
        server(tokenizer, engine, std::move(chat), server_options) {
    port = server.bind("127.0.0.1", 0);
    engine.start();
    thread = std::thread([this] { server.listen(); });
  }
  ~RunningServer() {
    server.stop();
    thread.join();
    engine.stop();
  }

  static engine::EngineOptions default_options() {
    engine::EngineOptions o;
    o.max_sequences = 4;
    o.max_context = 512;
    o.token_budget = 256;
    o.prefill_chunk = 64;
    o.prefix_store_bytes = 64 << 20;
    o.threads = 2;
    return o;
  }
  static ServerOptions named(const std::string& name) {
    ServerOptions o;
    o.model_name = name;
    o.http_threads = 48;
    return o;
  }

  // The oracle the server is held to: the engine's own greedy continuation of `prompt`, from a fresh
  // engine with no stored states (what `strata run --temp 0` prints).
  std::string greedy_reference(const std::vector<int32_t>& prompt, int max_tokens) const {
    engine::EngineOptions options = default_options();
    options.prefix_store_bytes = 0;
    engine::Engine reference(*model, options);
    engine::Session session(tokenizer, reference);
    engine::SamplingParams p;
    p.temperature = 0;
    p.max_new_tokens = max_tokens;
    return session.generate(prompt, p).text;
  }
  std::string greedy_reference(const std::string& prompt, int max_tokens) const {
    return greedy_reference(tokenizer.encode(prompt, /*add_special_tokens=*/true), max_tokens);
  }

  httplib::Client client() const {
    httplib::Client c("127.0.0.1", port);
    c.set_read_timeout(120, 0);
    return c;
  }
  // POSTs JSON and returns {status, parsed body}.
  std::pair<int, nlohmann::json> post(const std::string& path, const nlohmann::json& body) const {
    auto c = client();
    const auto r = c.Post(path.c_str(), body.dump(), "application/json");
    if (!r) return {-1, nullptr};
    return {r->status, nlohmann::json::parse(r->body, nullptr, false)};
  }

  tokenizer::Tokenizer tokenizer;
  std::unique_ptr<model::Model> model;
  engine::Engine engine;
  Server server;
  int port = 0;
  std::thread thread;
};

}  // namespace strata::server::testing
