// Serving benchmark: the OpenAI server over the bundled demo model on a loopback port, driven by 1, 8
// and 32 concurrent streaming clients (each request: a distinct ~20-token prompt, 32 generated tokens,
// sampled). Reports requests/s, generated tokens/s and time-to-first-token p50/p99 as counters, over
// real time (the clients and the engine share this machine's cores, as with llama-server).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <benchmark/benchmark.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include "strata/engine/engine.h"
#include "strata/model/model.h"
#include "strata/server/server.h"
#include "strata/tokenizer/tokenizer.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Fixture {
  Fixture()
      : tokenizer(strata::tokenizer::Tokenizer::load(std::string(STRATA_SOURCE_DIR) + "/models/demo/tokenizer.json")),
        model(strata::model::Model::load(std::string(STRATA_SOURCE_DIR) + "/models/demo")),
        engine(*model, options()),
        server(tokenizer, engine, {}, server_options()) {
    port = server.bind("127.0.0.1", 0);
    engine.start();
    thread = std::thread([this] { server.listen(); });
  }
  ~Fixture() {
    server.stop();
    thread.join();
    engine.stop();
  }
  static strata::engine::EngineOptions options() {
    strata::engine::EngineOptions o;
    o.max_sequences = 32;
    o.max_context = 256;
    o.token_budget = 512;
    o.prefix_store_bytes = 0;  // distinct prompts: measure computing, not reuse
    return o;
  }
  static strata::server::ServerOptions server_options() {
    strata::server::ServerOptions o;
    o.model_name = "demo";
    o.http_threads = 64;
    return o;
  }
  strata::tokenizer::Tokenizer tokenizer;
  std::unique_ptr<strata::model::Model> model;
  strata::engine::Engine engine;
  strata::server::Server server;
  int port = 0;
  std::thread thread;
};

Fixture& fixture() {
  static Fixture f;
  return f;
}

void BM_ServeStreaming(benchmark::State& state) {
  const int clients = static_cast<int>(state.range(0));
  const int per_client = 4;
  Fixture& f = fixture();
  std::vector<double> ttft;
  int64_t tokens = 0, requests = 0;
  std::atomic<int> failures{0};
  for (auto _ : state) {
    std::vector<std::thread> threads;
    std::vector<std::vector<double>> first(static_cast<size_t>(clients));
    std::vector<int64_t> generated(static_cast<size_t>(clients), 0);
    const auto start = Clock::now();
    for (int c = 0; c < clients; ++c)
      threads.emplace_back([&, c] {
        httplib::Client client("127.0.0.1", f.port);
        client.set_read_timeout(300, 0);
        for (int k = 0; k < per_client; ++k) {
          const nlohmann::json body = {{"prompt", "Chapter " + std::to_string(requests + c * per_client + k) +
                                                      ". The fox and the river, a story about the old man and the sea"},
                                       {"max_tokens", 32}, {"temperature", 0.8}, {"ignore_eos", true},
                                       {"seed", c * 100 + k}, {"stream", true}};
          httplib::Request req;
          req.method = "POST";
          req.path = "/v1/completions";
          req.body = body.dump();
          req.set_header("Content-Type", "application/json");
          const auto sent = Clock::now();
          bool seen = false;
          req.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) {
            const std::string_view chunk(data, n);
            if (!seen && chunk.find("\"text\"") != std::string_view::npos) {
              first[static_cast<size_t>(c)].push_back(std::chrono::duration<double>(Clock::now() - sent).count());
              seen = true;
            }
            return true;
          };
          httplib::Response res;
          httplib::Error error = httplib::Error::Success;
          if (!client.send(req, res, error) || res.status != 200) ++failures;
          generated[static_cast<size_t>(c)] += 32;
        }
      });
    for (auto& t : threads) t.join();
    state.SetIterationTime(std::chrono::duration<double>(Clock::now() - start).count());
    for (const auto& f_c : first) ttft.insert(ttft.end(), f_c.begin(), f_c.end());
    for (int64_t g : generated) tokens += g;
    requests += static_cast<int64_t>(clients) * per_client;
  }
  std::sort(ttft.begin(), ttft.end());
  const auto quantile = [&](double q) {
    return ttft.empty() ? 0.0 : ttft[std::min(ttft.size() - 1, static_cast<size_t>(q * static_cast<double>(ttft.size())))];
  };
  state.counters["requests/s"] = benchmark::Counter(static_cast<double>(requests), benchmark::Counter::kIsRate);
  state.counters["tokens/s"] = benchmark::Counter(static_cast<double>(tokens), benchmark::Counter::kIsRate);
  state.counters["ttft_p50_ms"] = quantile(0.5) * 1e3;
  state.counters["ttft_p99_ms"] = quantile(0.99) * 1e3;
  state.counters["failures"] = failures.load();
}
BENCHMARK(BM_ServeStreaming)->Arg(1)->Arg(8)->Arg(32)->UseManualTime()->Unit(benchmark::kMillisecond)->Iterations(3);

}  // namespace

BENCHMARK_MAIN();
