// `strata serve` as a process: it answers on its port, SIGTERM ends a running stream with
// finish_reason "abort" and [DONE] and the process exits 0; bad flags are one error line and exit 2.
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <chrono>
#include <cstdio>
#include <unistd.h>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

extern char** environ;

namespace {

pid_t spawn(const std::vector<std::string>& args) {
  std::vector<char*> argv;
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = -1;
  if (posix_spawn(&pid, argv[0], nullptr, nullptr, argv.data(), environ) != 0) return -1;
  return pid;
}

int wait_exit(pid_t pid) {
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

TEST(ServeProcess, SigtermEndsStreamsAndExitsZero) {
  const int port = 20000 + static_cast<int>(std::random_device{}() % 20000);
  const pid_t pid = spawn({STRATA_CLI, "serve", std::string(STRATA_SOURCE_DIR) + "/models/demo", "--port",
                           std::to_string(port), "--threads", "2"});
  ASSERT_GT(pid, 0);
  httplib::Client client("127.0.0.1", port);
  bool up = false;
  for (int i = 0; i < 300 && !up; ++i) {
    const auto r = client.Get("/health");
    up = r && r->status == 200;
    if (!up) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_TRUE(up) << "strata serve did not come up on port " << port;
  std::string body;
  std::thread stream([&] {
    httplib::Client c("127.0.0.1", port);
    c.set_read_timeout(60, 0);
    const nlohmann::json request = {{"prompt", "Once"}, {"max_tokens", 3000}, {"ignore_eos", true}, {"stream", true}};
    const auto r = c.Post("/v1/completions", request.dump(), "application/json");
    if (r) body = r->body;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  kill(pid, SIGTERM);
  stream.join();
  EXPECT_EQ(wait_exit(pid), 0);
  EXPECT_NE(body.find("\"finish_reason\":\"abort\""), std::string::npos) << body.substr(body.size() > 400 ? body.size() - 400 : 0);
  EXPECT_NE(body.find("data: [DONE]"), std::string::npos);
}

// A chat template strata cannot render fails when the server starts, not at the first chat request.
TEST(ServeProcess, AnUnsupportedTemplateFailsAtStartup) {
  const std::string path = "/tmp/strata_bad_template_" + std::to_string(getpid()) + ".jinja";
  {
    FILE* f = fopen(path.c_str(), "w");
    ASSERT_NE(f, nullptr);
    fputs("{% for m in messages %}{{ m.content }}{% endfor %}\n{% extends 'base.jinja' %}\n", f);
    fclose(f);
  }
  const pid_t pid = spawn({STRATA_CLI, "serve", std::string(STRATA_SOURCE_DIR) + "/models/demo", "--port", "0",
                           "--chat-template", path});
  ASSERT_GT(pid, 0);
  EXPECT_EQ(wait_exit(pid), 2);
  remove(path.c_str());
}

TEST(ServeProcess, BadFlagsExitTwo) {
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{STRATA_CLI, "serve", "--port", "70000"},
        std::vector<std::string>{STRATA_CLI, "serve", "--max-sequences", "0"},
        std::vector<std::string>{STRATA_CLI, "serve", "--device", "cuda:99"},
        std::vector<std::string>{STRATA_CLI, "serve", "--device", "tpu"},
        std::vector<std::string>{STRATA_CLI, "serve", "/nonexistent/model"}}) {
    const pid_t pid = spawn(args);
    ASSERT_GT(pid, 0);
    EXPECT_EQ(wait_exit(pid), 2) << args.back();
  }
}

}  // namespace
