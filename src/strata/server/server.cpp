#include "strata/server/server.h"

#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>

#include <fmt/format.h>
#include <httplib.h>
#include <sys/socket.h>

#include "strata/core/error.h"
#include "strata/io/json_depth.h"
#include "strata/server/api_error.h"
#include "strata/server/call.h"
#include "strata/server/openai_request.h"
#include "strata/server/openai_response.h"

namespace strata::server {

namespace {

using nlohmann::json;
using Clock = Call::Clock;

void send_json(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(dump(body), "application/json");
}

}  // namespace

Server::Server(const tokenizer::Tokenizer& tokenizer, engine::Engine& engine, ChatRenderer chat, ServerOptions options)
    : tokenizer_(tokenizer), engine_(engine), session_(tokenizer, engine), chat_(std::move(chat)),
      options_(std::move(options)), http_(std::make_unique<httplib::Server>()) {
  const int threads = std::max(4, options_.http_threads);
  http_->new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
  http_->set_payload_max_length(options_.max_body_bytes);
  // cpp-httplib listens with a backlog of 5, so a burst of clients connecting at once overflows the
  // accept queue and some see their connection dropped. The listening socket passes through here before
  // bind; bind() re-listens on it with the system's maximum backlog.
  http_->set_socket_options([this](socket_t sock) {
    httplib::default_socket_options(sock);
    listen_socket_ = sock;
  });
  install_routes();
}

Server::~Server() { stop(); }

int Server::bind(const std::string& host, int port) {
  if (port < 0 || port > 65535) fail("--port must be in 0..65535, got {}", port);
  if (port == 0) {
    const int bound = http_->bind_to_any_port(host.c_str());
    if (bound <= 0) fail("cannot listen on {} (any port)", host);
    if (listen_socket_ >= 0) ::listen(listen_socket_, SOMAXCONN);
    return bound;
  }
  if (!http_->bind_to_port(host.c_str(), port))
    fail("cannot listen on {}:{} (in use, or not an address of this machine?)", host, port);
  if (listen_socket_ >= 0) ::listen(listen_socket_, SOMAXCONN);
  return port;
}

void Server::listen() { http_->listen_after_bind(); }

void Server::stop() {
  if (stopping_.exchange(true)) return;
  {
    std::lock_guard<std::mutex> lock(calls_mutex_);
    for (const auto& call : calls_)
      for (const auto& choice : call->choices) engine_.cancel(choice.id);
  }
  http_->stop();
}

EngineGauges Server::gauges() const {
  const engine::EngineStats stats = engine_.stats();
  const engine::StepReport last = engine_.last_step();
  EngineGauges g;
  g.running = last.running;
  g.queued = last.queued;
  g.free_slots = engine_.free_slots();
  g.total_kv_blocks = engine_.total_kv_blocks();
  g.free_kv_blocks = engine_.free_kv_blocks();
  g.prompt_tokens_reused = stats.prompt_tokens_reused;
  g.prompt_tokens_computed = stats.prompt_tokens_computed;
  g.generated_tokens = stats.generated_tokens;
  return g;
}

void Server::forget(const std::shared_ptr<Call>& call) {
  std::lock_guard<std::mutex> lock(calls_mutex_);
  if (calls_.erase(call)) in_flight_ -= static_cast<int64_t>(call->choices.size());
}

std::shared_ptr<Call> Server::start_call(const GenerationRequest& request) {
  if (stopping_) throw ApiError(503, "the server is shutting down", {}, "server_error", "shutting_down");
  if (!request.model.empty() && request.model != options_.model_name)
    throw ApiError(404, fmt::format("the model '{}' does not exist; this server serves '{}'", request.model,
                                    options_.model_name), "model", "invalid_request_error", "model_not_found");
  auto call = std::make_shared<Call>();
  call->chat = request.chat;
  call->stream = request.stream;
  call->include_usage = request.include_usage;
  call->logprobs = request.logprobs;
  call->model = options_.model_name;
  call->created = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  call->id = fmt::format("{}-{:016x}", request.chat ? "chatcmpl" : "cmpl",
                         next_id_.fetch_add(1) * 0x9E3779B97F4A7C15ull ^ static_cast<uint64_t>(call->created));

  // Prompts as token ids, checked against the vocabulary and the context before anything is queued.
  std::vector<std::vector<int32_t>> prompts;
  std::vector<std::string> echoes;
  const int64_t vocab = static_cast<int64_t>(tokenizer_.vocab_size());
  if (request.chat) {
    if (!chat_) throw ApiError(400, "this model has no chat template; use /v1/completions with a prompt", "messages");
    std::string text;
    try {
      text = chat_(request.messages, request.tools, request.template_kwargs, request.add_generation_prompt);
    } catch (const Error& e) {
      throw ApiError(400, fmt::format("the chat template rejected the messages: {}", e.what()), "messages");
    }
    prompts.push_back(tokenizer_.encode(text, /*add_special_tokens=*/false));
    echoes.emplace_back();
    if (prompts.back().empty()) throw ApiError(400, "the messages render to an empty prompt", "messages");
  } else {
    for (size_t i = 0; i < request.prompts.size(); ++i) {
      const Prompt& p = request.prompts[i];
      const std::string param = request.prompts.size() > 1 ? fmt::format("prompt[{}]", i) : "prompt";
      if (!p.tokens.empty()) {
        for (int32_t t : p.tokens)
          if (t >= vocab) throw ApiError(400, fmt::format("'{}' holds token id {}, outside the vocabulary [0, {})", param, t, vocab), param);
        prompts.push_back(p.tokens);
        echoes.push_back(request.echo ? tokenizer_.decode(p.tokens, /*skip_special_tokens=*/true) : std::string());
      } else {
        prompts.push_back(tokenizer_.encode(p.text, /*add_special_tokens=*/true));
        echoes.push_back(request.echo ? p.text : std::string());
        if (prompts.back().empty()) throw ApiError(400, fmt::format("'{}' encodes to no tokens", param), param);
      }
    }
  }
  const int64_t context = engine_.options().max_context;
  std::vector<int> max_new;
  for (size_t i = 0; i < prompts.size(); ++i) {
    const int64_t length = static_cast<int64_t>(prompts[i].size());
    const std::string param = request.chat ? "messages" : "prompt";
    if (length >= context)
      throw ApiError(400, fmt::format("the prompt has {} tokens but the context holds {} (prompt + max_tokens); "
                                      "shorten it or start the server with a larger --context", length, context),
                     param, "invalid_request_error", "context_length_exceeded");
    const int64_t wanted = request.max_tokens.value_or(context - length);
    if (length + wanted > context)
      throw ApiError(400, fmt::format("max_tokens {} + the prompt's {} tokens exceed the context of {}", wanted,
                                      length, context), "max_tokens", "invalid_request_error", "context_length_exceeded");
    max_new.push_back(static_cast<int>(wanted));
    call->prompt_tokens.push_back(length);
  }
  const size_t n = prompts.size() * static_cast<size_t>(request.n);
  const int64_t capacity = engine_.options().max_sequences + options_.max_queue;
  if (in_flight_ + static_cast<int64_t>(n) > capacity)
    throw ApiError(429, fmt::format("the server is busy ({} requests in flight, room for {}); retry shortly",
                                    in_flight_.load(), capacity), {}, "rate_limit_exceeded", "overloaded");
  try {
    engine::SamplingParams probe = request.sampling;
    probe.max_new_tokens = max_new.front();
    probe.validate();
  } catch (const Error& e) {
    throw ApiError(400, e.what());
  }

  call->choices.resize(n);
  call->unfinished = n;
  {
    std::lock_guard<std::mutex> lock(calls_mutex_);
    calls_.insert(call);
    in_flight_ += static_cast<int64_t>(n);
  }
  // Choices are laid out prompt-major (choice index = prompt · n + k), as OpenAI numbers them.
  for (size_t c = 0; c < n; ++c) {
    const size_t p = c / static_cast<size_t>(request.n), k = c % static_cast<size_t>(request.n);
    call->choices[c].prompt = p;
    call->choices[c].echo = echoes[p];
    engine::SamplingParams sampling = request.sampling;
    sampling.max_new_tokens = max_new[p];
    if (sampling.seed && k > 0) sampling.seed = *sampling.seed + k;
    std::weak_ptr<Call> weak = call;
    Metrics* metrics = &metrics_;
    const engine::RequestId id = session_.submit(prompts[p], sampling, [weak, c, metrics](const engine::Event& event) {
      const std::shared_ptr<Call> owner = weak.lock();
      if (!owner) return;
      std::lock_guard<std::mutex> lock(owner->mutex);
      Call::Choice& choice = owner->choices[c];
      if (event.kind == engine::Event::Kind::token) {
        const Clock::time_point now = Clock::now();
        if (choice.last_token != Clock::time_point{})
          metrics->inter_token().observe(std::chrono::duration<double>(now - choice.last_token).count());
        choice.last_token = now;
      }
      owner->events.emplace_back(c, event);
      owner->changed.notify_all();
    });
    std::lock_guard<std::mutex> lock(call->mutex);
    call->choices[c].id = id;
  }
  return call;
}

void Server::install_routes() {
  httplib::Server& http = *http_;
  http.Get("/health", [this](const httplib::Request&, httplib::Response& res) {
    metrics_.count_request("/health", 200);
    send_json(res, 200, {{"status", stopping_ ? "shutting_down" : "ok"}});
  });
  http.Get("/v1/models", [this](const httplib::Request&, httplib::Response& res) {
    metrics_.count_request("/v1/models", 200);
    const json model = {{"id", options_.model_name}, {"object", "model"}, {"created", 0}, {"owned_by", "strata"},
                        {"max_model_len", engine_.options().max_context}};
    send_json(res, 200, {{"object", "list"}, {"data", json::array({model})}});
  });
  http.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    metrics_.count_request("/metrics", 200);
    res.set_content(metrics_.format(gauges()), "text/plain; version=0.0.4");
  });
  for (const char* path : {"/v1/chat/completions", "/v1/completions"}) {
    const std::string endpoint = path;
    http.Post(path, [this, endpoint](const httplib::Request& req, httplib::Response& res) {
      json body;
      nlohmann::ordered_json ordered;
      if (auto too_deep = io::json_depth_error(req.body, "the request body")) {
        metrics_.count_request(endpoint, 400);
        send_json(res, 400, ApiError(400, *too_deep).to_json());
        return;
      }
      try {
        body = json::parse(req.body);
        ordered = nlohmann::ordered_json::parse(req.body);
      } catch (const json::parse_error& e) {
        metrics_.count_request(endpoint, 400);
        send_json(res, 400, ApiError(400, fmt::format("the request body is not valid JSON: {}", e.what())).to_json());
        return;
      }
      handle_generation(endpoint, body, ordered, &res);
    });
  }
  http.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return;
    const std::string message = res.status == 404   ? fmt::format("no route {} {}", req.method, req.path)
                                : res.status == 413 ? std::string("the request body is too large")
                                : res.status == 405 ? fmt::format("{} is not allowed on {}", req.method, req.path)
                                                    : fmt::format("HTTP {}", res.status);
    res.set_content(dump(ApiError(res.status, message).to_json()), "application/json");
  });
}

void Server::handle_generation(const std::string& endpoint, const json& body, const nlohmann::ordered_json& ordered,
                               void* response) {
  httplib::Response& res = *static_cast<httplib::Response*>(response);
  std::shared_ptr<Call> call;
  try {
    const GenerationRequest request = endpoint == "/v1/chat/completions" ? parse_chat_request(body, ordered)
                                                                          : parse_completion_request(body);
    call = start_call(request);
  } catch (const ApiError& e) {
    metrics_.count_request(endpoint, e.status());
    send_json(res, e.status(), e.to_json());
    return;
  } catch (const Error& e) {
    metrics_.count_request(endpoint, 400);
    send_json(res, 400, ApiError(400, e.what()).to_json());
    return;
  }
  const ResponseWriter writer(*call, tokenizer_);
  const auto record = [this, call, endpoint](int status) {
    metrics_.count_request(endpoint, status);
    for (const Call::Choice& c : call->choices) {
      metrics_.count_tokens(c.stats.prompt_tokens, c.stats.generated_tokens, c.stats.reused_tokens);
      if (c.stats.generated_tokens > 0) metrics_.time_to_first_token().observe(c.stats.first_token_seconds);
    }
  };

  if (!call->stream) {
    {
      std::unique_lock<std::mutex> lock(call->mutex);
      while (call->unfinished > 0 || !call->events.empty()) {
        if (call->events.empty()) {
          call->changed.wait(lock);
          continue;
        }
        auto [c, event] = std::move(call->events.front());
        call->events.pop_front();
        call->apply(c, event, call->logprobs);
      }
    }
    forget(call);
    if (const Call::Choice* failed = call->failed()) {
      record(400);
      send_json(res, 400, ApiError(400, failed->message).to_json());
    } else if (stopping_) {
      record(503);
      send_json(res, 503, ApiError(503, "the server is shutting down", {}, "server_error", "shutting_down").to_json());
    } else {
      record(200);
      send_json(res, 200, writer.whole());
    }
    return;
  }

  // Streaming: server-sent events, one chunk per token event, then usage (if asked) and [DONE].
  res.status = 200;
  res.set_header("Cache-Control", "no-cache");
  res.set_header("X-Accel-Buffering", "no");
  res.set_chunked_content_provider(
      "text/event-stream",
      [this, call, writer, record](size_t, httplib::DataSink& sink) {
        const auto send = [&sink](const json& j) {
          const std::string line = "data: " + dump(j) + "\n\n";
          return sink.write(line.data(), line.size());
        };
        const auto cancel_all = [this, call] {
          for (const Call::Choice& c : call->choices) engine_.cancel(c.id);
          return false;
        };
        const json opening = writer.opening_chunk();
        if (!opening["choices"].empty() && !send(opening)) return cancel_all();
        Clock::time_point last_write = Clock::now();
        for (;;) {
          std::unique_lock<std::mutex> lock(call->mutex);
          if (call->events.empty()) {
            if (call->unfinished == 0) break;
            call->changed.wait_for(lock, std::chrono::milliseconds(200));
            if (call->events.empty()) {
              lock.unlock();
              // A comment line keeps the connection honest: writing to a client that left fails, which
              // cancels its requests even while nothing is generated (a long prefill, a queue wait).
              if (Clock::now() - last_write > std::chrono::seconds(1)) {
                static const char keepalive[] = ": keep-alive\n\n";
                if (!sink.write(keepalive, sizeof(keepalive) - 1)) return cancel_all();
                last_write = Clock::now();
              }
              continue;
            }
          }
          auto [c, event] = std::move(call->events.front());
          call->events.pop_front();
          const Call::Choice& choice = call->choices[c];
          const size_t offset = choice.echo.size() + choice.text.size();
          call->apply(c, event, false);
          lock.unlock();
          json out;
          if (event.kind == engine::Event::Kind::token) {
            if (event.text.empty() && !call->logprobs) continue;
            out = writer.token_chunk(c, event, offset);
          } else if (event.reason == engine::FinishReason::error) {
            continue;  // reported once every choice has ended
          } else {
            out = writer.finish_chunk(c, event.reason);
          }
          if (!send(out)) return cancel_all();
          last_write = Clock::now();
        }
        if (const Call::Choice* failed = call->failed()) {
          record(400);
          send(ApiError(400, failed->message).to_json());
        } else {
          record(200);
          if (call->include_usage) send(writer.usage_chunk());
        }
        static const char done[] = "data: [DONE]\n\n";
        sink.write(done, sizeof(done) - 1);
        sink.done();
        return true;
      },
      [this, call](bool) { forget(call); });
}

}  // namespace strata::server
