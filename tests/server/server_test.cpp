// The server over the demo model, driven over HTTP on a loopback port: greedy output equals the
// engine's own generate (whole and streamed), every bad request gets an OpenAI-shaped error naming
// the field with the right status, a follow-up turn reuses the stored state, a dropped stream frees
// its slot, and many concurrent streams all complete.
#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "server_fixture.h"

namespace strata::server {
namespace {

using nlohmann::json;
using testing::RunningServer;

// The text of an SSE completion stream, and whether it ended with [DONE].
struct Stream {
  std::string text, finish_reason;
  json usage;
  bool done = false;
  int chunks = 0;
};

Stream parse_stream(const std::string& body, bool chat) {
  Stream s;
  size_t at = 0;
  while ((at = body.find("data: ", at)) != std::string::npos) {
    const size_t end = body.find("\n\n", at);
    const std::string data = body.substr(at + 6, end - at - 6);
    at = end;
    if (data == "[DONE]") {
      s.done = true;
      continue;
    }
    const json chunk = json::parse(data);
    ++s.chunks;
    if (chunk.contains("usage") && !chunk["usage"].is_null()) s.usage = chunk["usage"];
    for (const json& c : chunk["choices"]) {
      if (chat && c["delta"].contains("content")) s.text += c["delta"]["content"].get<std::string>();
      if (!chat) s.text += c["text"].get<std::string>();
      if (!c["finish_reason"].is_null()) s.finish_reason = c["finish_reason"];
    }
  }
  return s;
}

TEST(Server, GreedyCompletionEqualsTheEngine) {
  const RunningServer s;
  const std::string prompt = "Once upon a time";
  const std::string expected = s.greedy_reference(prompt, 24);
  const auto [status, body] = s.post("/v1/completions", {{"model", "demo"}, {"prompt", prompt}, {"max_tokens", 24},
                                                          {"temperature", 0}});
  ASSERT_EQ(status, 200) << body.dump();
  EXPECT_EQ(body["object"], "text_completion");
  EXPECT_EQ(body["choices"][0]["text"], expected);
  EXPECT_EQ(body["usage"]["prompt_tokens"], static_cast<int64_t>(s.tokenizer.encode(prompt, true).size()));
  EXPECT_EQ(body["usage"]["completion_tokens"].get<int>() + body["usage"]["prompt_tokens"].get<int>(),
            body["usage"]["total_tokens"].get<int>());

  auto c = s.client();
  const json request = {{"prompt", prompt}, {"max_tokens", 24}, {"temperature", 0}, {"stream", true},
                        {"stream_options", {{"include_usage", true}}}};
  const auto r = c.Post("/v1/completions", request.dump(), "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_NE(r->get_header_value("Content-Type").find("text/event-stream"), std::string::npos);
  const Stream stream = parse_stream(r->body, false);
  EXPECT_TRUE(stream.done);
  EXPECT_EQ(stream.text, expected);
  EXPECT_EQ(stream.finish_reason, "length");
  EXPECT_EQ(stream.usage["completion_tokens"], 24);
}

TEST(Server, TokenPromptsListsAndN) {
  const RunningServer s;
  const std::vector<int32_t> ids = s.tokenizer.encode("The fox", true);
  const auto [status, body] = s.post("/v1/completions", {{"prompt", json::array({json(ids), "The fox"})},
                                                          {"max_tokens", 6}, {"temperature", 0}, {"n", 2},
                                                          {"logprobs", 2}, {"echo", true}});
  ASSERT_EQ(status, 200) << body.dump();
  ASSERT_EQ(body["choices"].size(), 4u);
  for (int i = 0; i < 4; ++i) {
    const json& choice = body["choices"][i];
    EXPECT_EQ(choice["index"], i);
    EXPECT_EQ(choice["text"], body["choices"][0]["text"]) << "greedy: every choice and both spellings agree";
    EXPECT_EQ(choice["text"].get<std::string>().rfind("The fox", 0), 0u) << "echo";
    EXPECT_EQ(choice["logprobs"]["tokens"].size(), 6u);
    EXPECT_EQ(choice["logprobs"]["top_logprobs"][0].size(), 2u);
    EXPECT_LE(choice["logprobs"]["token_logprobs"][0].get<double>(), 0.0);
  }
}

TEST(Server, BadRequestsGetOpenAiErrors) {
  const RunningServer s;
  auto c = s.client();
  const auto expect_error = [&](const std::string& path, const std::string& body, int status, const std::string& param,
                                const std::string& part) {
    SCOPED_TRACE(body);
    const auto r = c.Post(path.c_str(), body, "application/json");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, status);
    const json j = json::parse(r->body, nullptr, false);
    ASSERT_TRUE(j.contains("error")) << r->body;
    EXPECT_TRUE(j["error"]["message"].is_string());
    EXPECT_TRUE(j["error"]["type"].is_string());
    if (param.empty())
      EXPECT_TRUE(j["error"]["param"].is_null()) << r->body;
    else
      EXPECT_EQ(j["error"]["param"], param) << r->body;
    EXPECT_NE(j["error"]["message"].get<std::string>().find(part), std::string::npos) << r->body;
  };
  expect_error("/v1/completions", "{\"prompt\": \"x\",", 400, "", "not valid JSON");
  expect_error("/v1/completions", "[1, 2]", 400, "", "JSON object");
  // 100k-deep nesting is refused before parsing (handlers copy and dump the body recursively).
  expect_error("/v1/completions", "{\"prompt\": " + std::string(100000, '[') + std::string(100000, ']') + "}", 400, "",
               "the request body:1:523: JSON nested more than 512 levels deep");
  expect_error("/v1/completions", R"({"prompt": "x", "temperature": "hot"})", 400, "temperature", "number");
  expect_error("/v1/completions", R"({"prompt": "x", "temperature": 3})", 400, "temperature", "between 0 and 2");
  expect_error("/v1/completions", R"({"prompt": "x", "max_tokens": 0})", 400, "max_tokens", "between 1");
  expect_error("/v1/completions", R"({"prompt": "x", "max_tokens": 1.5})", 400, "max_tokens", "integer");
  expect_error("/v1/completions", R"({"prompt": "x", "n": 0})", 400, "n", "between 1");
  expect_error("/v1/completions", R"({"prompt": "x", "stop": 7})", 400, "stop", "string");
  expect_error("/v1/completions", R"({"prompt": [1, -2]})", 400, "prompt[1]", "token id");
  expect_error("/v1/completions", R"({"prompt": [1, 999999]})", 400, "prompt", "outside the vocabulary");
  expect_error("/v1/completions", R"({"max_tokens": 3})", 400, "prompt", "required");
  expect_error("/v1/completions", R"({"prompt": "x", "model": "gpt-4"})", 404, "model", "does not exist");
  expect_error("/v1/completions", R"({"prompt": "x", "stream": "yes"})", 400, "stream", "true or false");
  expect_error("/v1/completions", R"({"prompt": "x", "max_tokens": 600})", 400, "max_tokens", "exceed the context");
  expect_error("/v1/completions", json{{"prompt", std::string(5000, 'a') + " b c d"}}.dump(), 400, "prompt", "context");
  expect_error("/v1/chat/completions", R"({"messages": []})", 400, "messages", "non-empty");
  expect_error("/v1/chat/completions", R"({"messages": [{"role": "wizard", "content": "hi"}]})", 400,
               "messages[0].role", "wizard");
  expect_error("/v1/chat/completions", R"({"messages": [{"role": "user"}]})", 400, "messages[0].content", "required");
  expect_error("/v1/chat/completions", R"({"messages": [{"role": "user", "content": "hi"}]})", 400, "messages",
               "no chat template");
  const auto missing = c.Get("/v1/nothing");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
  EXPECT_TRUE(json::parse(missing->body)["error"]["message"].is_string());
  // The server still serves after all of that.
  EXPECT_EQ(s.post("/v1/completions", {{"prompt", "x"}, {"max_tokens", 2}}).first, 200);
}

TEST(Server, ModelsHealthAndMetrics) {
  const RunningServer s;
  auto c = s.client();
  const auto models = c.Get("/v1/models");
  ASSERT_TRUE(models);
  EXPECT_EQ(json::parse(models->body)["data"][0]["id"], "demo");
  const auto health = c.Get("/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  EXPECT_EQ(s.post("/v1/completions", {{"prompt", "Hello"}, {"max_tokens", 3}}).first, 200);
  const auto metrics = c.Get("/metrics");
  ASSERT_TRUE(metrics);
  for (const char* name : {"strata_requests_total{endpoint=\"/v1/completions\",status=\"200\"} 1",
                           "strata_generation_tokens_total 3", "strata_time_to_first_token_seconds_count 1",
                           "strata_queue_depth", "strata_running_sequences", "strata_prefix_reuse_tokens_total"})
    EXPECT_NE(metrics->body.find(name), std::string::npos) << name << "\n" << metrics->body;
}

// A conversation continued three times: each turn's prompt extends the previous prompt + answer, and
// each follow-up resumes the whole previous turn and computes only its new tokens.
TEST(Server, FollowUpTurnsReuseTheConversationState) {
  const RunningServer s;
  std::string conversation = "The little fox ran to the river.";
  int64_t previous_tokens = 0, new_tokens = 0;
  for (int turn = 0; turn < 3; ++turn) {
    const auto [status, body] = s.post("/v1/completions", {{"prompt", conversation}, {"max_tokens", 12}, {"temperature", 0}});
    ASSERT_EQ(status, 200) << body.dump();
    const int64_t prompt_tokens = body["usage"]["prompt_tokens"];
    const int64_t cached = body["usage"]["prompt_tokens_details"]["cached_tokens"];
    if (turn == 0) {
      EXPECT_EQ(cached, 0);
    } else {
      EXPECT_EQ(cached, previous_tokens) << "turn " << turn;
      EXPECT_EQ(prompt_tokens - cached, new_tokens) << "turn " << turn << ": only the new tokens are computed";
    }
    conversation += body["choices"][0]["text"].get<std::string>();
    // The next prompt must extend this turn's tokens exactly for the state to apply.
    const std::vector<int32_t> tokens = s.tokenizer.encode(conversation, true);
    previous_tokens = static_cast<int64_t>(tokens.size());
    conversation += " Then it went home.";
    new_tokens = static_cast<int64_t>(s.tokenizer.encode(conversation, true).size()) - previous_tokens;
  }
}

TEST(Server, ADroppedStreamFreesItsSlot) {
  const RunningServer s;
  {
    httplib::Client c("127.0.0.1", s.port);
    int received = 0;
    const json request = {{"prompt", "Once"}, {"max_tokens", 400}, {"stream", true}, {"ignore_eos", true}};
    httplib::Request req;
    req.method = "POST";
    req.path = "/v1/completions";
    req.body = request.dump();
    req.set_header("Content-Type", "application/json");
    // Hang up after a few chunks.
    req.content_receiver = [&](const char*, size_t, uint64_t, uint64_t) { return ++received < 3; };
    httplib::Response res;
    httplib::Error error = httplib::Error::Success;
    c.send(req, res, error);
    EXPECT_GE(received, 3);
  }
  for (int i = 0; i < 200 && s.engine.free_slots() != RunningServer::default_options().max_sequences; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(s.engine.free_slots(), RunningServer::default_options().max_sequences);
  EXPECT_GE(s.engine.stats().cancelled, 1u);
}

// Past --max-sequences + --max-queue requests in flight, a request is refused with 429 at once; when
// the load is gone the server takes requests again.
TEST(Server, OverloadIsA429) {
  ServerOptions options = RunningServer::named("demo");
  options.max_queue = 0;
  const RunningServer s(RunningServer::default_options(), options);
  const int running = RunningServer::default_options().max_sequences;
  std::vector<std::thread> streams;
  std::atomic<int> started{0};
  for (int i = 0; i < running; ++i)
    streams.emplace_back([&] {
      httplib::Client c("127.0.0.1", s.port);
      c.set_read_timeout(60, 0);
      httplib::Request req;
      req.method = "POST";
      req.path = "/v1/completions";
      req.body = json{{"prompt", "Once"}, {"max_tokens", 300}, {"ignore_eos", true}, {"stream", true}}.dump();
      req.set_header("Content-Type", "application/json");
      bool counted = false;
      req.content_receiver = [&](const char*, size_t, uint64_t, uint64_t) {
        if (!counted) ++started, counted = true;
        return true;
      };
      httplib::Response res;
      httplib::Error error = httplib::Error::Success;
      c.send(req, res, error);
    });
  while (started < running) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  const auto [status, body] = s.post("/v1/completions", {{"prompt", "x"}, {"max_tokens", 2}});
  EXPECT_EQ(status, 429) << body.dump();
  EXPECT_EQ(body["error"]["type"], "rate_limit_exceeded");
  for (auto& t : streams) t.join();
  EXPECT_EQ(s.post("/v1/completions", {{"prompt", "x"}, {"max_tokens", 2}}).first, 200);
}

// Functional load: 32 concurrent streaming clients × 8 requests each, all complete and well formed;
// afterwards every slot and KV block is free.
TEST(Server, ThirtyTwoConcurrentStreams) {
  const RunningServer s;
  std::atomic<int> good{0}, bad{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < 32; ++t)
    clients.emplace_back([&, t] {
      httplib::Client c("127.0.0.1", s.port);
      c.set_read_timeout(300, 0);
      for (int k = 0; k < 8; ++k) {
        const json request = {{"prompt", "Story " + std::to_string(t * 8 + k)}, {"max_tokens", 8},
                              {"temperature", 0.7}, {"seed", t * 8 + k}, {"stream", true}};
        const auto r = c.Post("/v1/completions", request.dump(), "application/json");
        const Stream stream = r && r->status == 200 ? parse_stream(r->body, false) : Stream{};
        const bool ok = stream.done && !stream.finish_reason.empty();
        (ok ? good : bad)++;
        if (!ok)
          ADD_FAILURE() << "client " << t << " request " << k << ": "
                        << (r ? std::to_string(r->status) + " " + r->body.substr(0, 300) : httplib::to_string(r.error()));
      }
    });
  for (auto& c : clients) c.join();
  EXPECT_EQ(good.load(), 256);
  EXPECT_EQ(bad.load(), 0);
  for (int i = 0; i < 100 && s.engine.free_slots() != RunningServer::default_options().max_sequences; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(s.engine.free_slots(), RunningServer::default_options().max_sequences);
  EXPECT_EQ(s.engine.reserved_kv_blocks(), 0);
}

}  // namespace
}  // namespace strata::server
