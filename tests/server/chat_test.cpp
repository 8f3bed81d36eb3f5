// /v1/chat/completions over the demo model with a ChatML template (tests/server/chatml.jinja): greedy
// answers equal the engine's continuation of the rendered prompt, whole and streamed; tools reach the
// template; a follow-up turn resumes from the stored state of the first; template errors are 400s.
#include <string>

#include <gtest/gtest.h>

#include "server_fixture.h"
#include "strata/server/chat_renderer.h"

namespace strata::server {
namespace {

using nlohmann::json;
using nlohmann::ordered_json;
using testing::RunningServer;

const std::string kTemplate = std::string(STRATA_SOURCE_DIR) + "/tests/server/chatml.jinja";

struct ChatServer {
  ChatServer()
      : tokenizer(tokenizer::Tokenizer::load(testing::demo_dir() + "/tokenizer.json")),
        renderer(load_chat_renderer(testing::demo_dir(), tokenizer, kTemplate)),
        server(RunningServer::default_options(), RunningServer::named("demo"), renderer) {}
  tokenizer::Tokenizer tokenizer;
  ChatRenderer renderer;
  RunningServer server;
};

// The engine's greedy continuation of the rendered chat prompt (tokenized without special tokens, as the
// server does).
std::string greedy_reference(const ChatServer& s, const ordered_json& messages, int max_tokens) {
  const std::string prompt = s.renderer(messages, nullptr, ordered_json::object(), true);
  return s.server.greedy_reference(s.tokenizer.encode(prompt, false), max_tokens);
}

TEST(Chat, GreedyAnswersEqualTheEngineWholeAndStreamed) {
  const ChatServer s;
  const ordered_json messages = ordered_json::parse(
      R"([{"role": "system", "content": "You tell stories."}, {"role": "user", "content": "Once upon a time"}])");
  const std::string expected = greedy_reference(s, messages, 16);
  const auto [status, body] = s.server.post("/v1/chat/completions",
                                            {{"messages", json::parse(messages.dump())}, {"max_tokens", 16}, {"temperature", 0}});
  ASSERT_EQ(status, 200) << body.dump();
  EXPECT_EQ(body["object"], "chat.completion");
  EXPECT_EQ(body["choices"][0]["message"]["role"], "assistant");
  EXPECT_EQ(body["choices"][0]["message"]["content"], expected);

  auto c = s.server.client();
  const json request = {{"messages", json::parse(messages.dump())}, {"max_tokens", 16}, {"temperature", 0},
                        {"stream", true}, {"stream_options", {{"include_usage", true}}}};
  const auto r = c.Post("/v1/chat/completions", request.dump(), "application/json");
  ASSERT_TRUE(r);
  std::string streamed, role;
  size_t at = 0;
  while ((at = r->body.find("data: ", at)) != std::string::npos) {
    const size_t end = r->body.find("\n\n", at);
    const std::string data = r->body.substr(at + 6, end - at - 6);
    at = end;
    if (data == "[DONE]") continue;
    const json chunk = json::parse(data);
    for (const json& choice : chunk["choices"]) {
      EXPECT_EQ(chunk["object"], "chat.completion.chunk");
      if (choice["delta"].contains("role")) role = choice["delta"]["role"];
      if (choice["delta"].contains("content")) streamed += choice["delta"]["content"].get<std::string>();
    }
  }
  EXPECT_EQ(role, "assistant");
  EXPECT_EQ(streamed, expected);
  EXPECT_NE(r->body.find("data: [DONE]"), std::string::npos);
}

TEST(Chat, ToolsReachTheTemplateAndFollowUpsReuseState) {
  const ChatServer s;
  json messages = json::parse(R"([{"role": "user", "content": "The fox ran to the river."}])");
  const json tools = json::parse(R"([{"type": "function", "function": {"name": "get_weather", "parameters": {}}}])");
  const auto [status, first] = s.server.post("/v1/chat/completions",
                                             {{"messages", messages}, {"tools", tools}, {"max_tokens", 10}, {"temperature", 0}});
  ASSERT_EQ(status, 200) << first.dump();
  const int64_t first_prompt = first["usage"]["prompt_tokens"];
  const std::string rendered = s.renderer(ordered_json::parse(messages.dump()), ordered_json::parse(tools.dump()),
                                          ordered_json::object(), true);
  EXPECT_NE(rendered.find("Tools: get_weather"), std::string::npos) << rendered;
  EXPECT_EQ(first_prompt, static_cast<int64_t>(s.tokenizer.encode(rendered, false).size()));

  messages.push_back({{"role", "assistant"}, {"content", first["choices"][0]["message"]["content"]}});
  messages.push_back({{"role", "user"}, {"content", "And then?"}});
  const auto [status2, second] = s.server.post("/v1/chat/completions",
                                               {{"messages", messages}, {"tools", tools}, {"max_tokens", 10}, {"temperature", 0}});
  ASSERT_EQ(status2, 200) << second.dump();
  // The first turn's state (its prompt and all but the last answer token) is resumed.
  EXPECT_GE(second["usage"]["prompt_tokens_details"]["cached_tokens"].get<int64_t>(), first_prompt) << second.dump();
}

TEST(Chat, TemplateErrorsAreBadRequests) {
  const ChatServer s;
  const auto [status, body] = s.server.post("/v1/chat/completions",
                                            {{"messages", json::parse(R"([{"role": "user", "content": [{"type": "image_url"}]}])")}});
  EXPECT_EQ(status, 400);
  EXPECT_EQ(body["error"]["param"], "messages[0].content[0]") << body.dump();
}

}  // namespace
}  // namespace strata::server
