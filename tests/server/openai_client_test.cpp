// The official `openai` npm client against the server (tests/server/openai_client/client_test.mjs):
// models, greedy completions whole and streamed (equal to the engine's own output), n with seeds and
// logprobs, and the client's error classes for 400/404. Skips, saying why, when node or the npm
// package is missing (scripts/install-deps installs both).
#include <array>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "server_fixture.h"
#include "strata/server/chat_renderer.h"

namespace strata::server {
namespace {

using nlohmann::json;
using testing::RunningServer;

const std::filesystem::path kClientDir = std::filesystem::path(STRATA_SOURCE_DIR) / "tests/server/openai_client";

std::string run_command(const std::string& command, int& status) {
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(command.c_str(), "r"), pclose);
  std::string out;
  if (!pipe) {
    status = -1;
    return out;
  }
  std::array<char, 4096> buffer{};
  size_t n = 0;
  while ((n = fread(buffer.data(), 1, buffer.size(), pipe.get())) > 0) out.append(buffer.data(), n);
  status = pclose(pipe.release());
  return out;
}

TEST(OpenAiClient, CompletionsStreamingAndErrors) {
  int status = 0;
  run_command("node --version > /dev/null 2>&1", status);
  if (status != 0) GTEST_SKIP() << "node is not installed (scripts/install-deps installs it); the openai client test did not run";
  if (!std::filesystem::exists(kClientDir / "node_modules/openai"))
    GTEST_SKIP() << "the openai npm package is not installed (scripts/install-deps runs npm ci in " << kClientDir
                 << "); the openai client test did not run";

  const RunningServer s;
  const std::string command = "node " + (kClientDir / "client_test.mjs").string() + " http://127.0.0.1:" +
                              std::to_string(s.port) + "/v1 demo 2>&1";
  const std::string out = run_command(command, status);
  ASSERT_EQ(status, 0) << out;
  const json r = json::parse(out, nullptr, false);
  ASSERT_FALSE(r.is_discarded()) << out;

  const std::string expected = s.greedy_reference("Once upon a time", 16);

  EXPECT_EQ(r["models"], json::array({"demo"}));
  EXPECT_EQ(r["completion"]["text"], expected);
  EXPECT_EQ(r["completion"]["finish_reason"], "length");
  EXPECT_EQ(r["completion"]["usage"]["completion_tokens"], 16);
  EXPECT_EQ(r["stream"]["text"], expected);
  EXPECT_EQ(r["stream"]["finish_reason"], "length");
  EXPECT_EQ(r["stream"]["usage"]["completion_tokens"], 16);
  ASSERT_EQ(r["sampled"].size(), 2u);
  EXPECT_EQ(r["sampled"][0]["tokens"], 8);
  EXPECT_NE(r["sampled"][0]["text"], r["sampled"][1]["text"]) << "n = 2 with seeds 7 and 8";
  EXPECT_EQ(r["errors"]["temperature"]["status"], 400);
  EXPECT_EQ(r["errors"]["temperature"]["name"], "BadRequestError");
  EXPECT_EQ(r["errors"]["temperature"]["param"], "temperature");
  EXPECT_EQ(r["errors"]["model"]["status"], 404);
  EXPECT_EQ(r["errors"]["model"]["name"], "NotFoundError");
  EXPECT_EQ(r["errors"]["context"]["status"], 400);
  EXPECT_EQ(r["errors"]["context"]["param"], "max_tokens");
}

TEST(OpenAiClient, ChatWholeAndStreamed) {
  int status = 0;
  run_command("node --version > /dev/null 2>&1", status);
  if (status != 0 || !std::filesystem::exists(kClientDir / "node_modules/openai"))
    GTEST_SKIP() << "node or the openai npm package is missing (scripts/install-deps installs both); the openai chat test did not run";
  const auto tokenizer = tokenizer::Tokenizer::load(testing::demo_dir() + "/tokenizer.json");
  const ChatRenderer renderer =
      load_chat_renderer(testing::demo_dir(), tokenizer, std::string(STRATA_SOURCE_DIR) + "/tests/server/chatml.jinja");
  const RunningServer s(RunningServer::default_options(), RunningServer::named("demo"), renderer);
  const std::string out = run_command("node " + (kClientDir / "client_test.mjs").string() + " http://127.0.0.1:" +
                                          std::to_string(s.port) + "/v1 demo --chat 2>&1",
                                      status);
  ASSERT_EQ(status, 0) << out;
  const json r = json::parse(out, nullptr, false);
  ASSERT_FALSE(r.is_discarded()) << out;

  const nlohmann::ordered_json messages = nlohmann::ordered_json::parse(
      R"([{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Say hello."}])");
  const std::string prompt = renderer(messages, nullptr, nlohmann::ordered_json::object(), true);
  const std::string expected = s.greedy_reference(s.tokenizer.encode(prompt, false), 16);
  EXPECT_EQ(r["chat"]["content"], expected);
  EXPECT_EQ(r["chat"]["role"], "assistant");
  EXPECT_EQ(r["chat_stream"]["content"], expected);
  EXPECT_EQ(r["chat_stream"]["role"], "assistant");
  EXPECT_EQ(r["errors"]["messages"]["status"], 400);
  EXPECT_EQ(r["errors"]["messages"]["param"], "messages");
}

}  // namespace
}  // namespace strata::server
