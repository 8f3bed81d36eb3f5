// `strata chat` as a process with its stdin a pipe: Ctrl-C (SIGINT) during an answer stops that answer
// ("[stopped]") and the conversation goes on — the next command still runs and the process exits 0.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>

#include <gtest/gtest.h>

extern char** environ;

namespace {

TEST(ChatProcess, CtrlCStopsTheAnswerNotTheChat) {
  int in[2], out[2];
  ASSERT_EQ(pipe(in), 0);
  ASSERT_EQ(pipe(out), 0);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in[0], STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
  posix_spawn_file_actions_addclose(&actions, in[1]);
  posix_spawn_file_actions_addclose(&actions, out[0]);
  const std::string model = std::string(STRATA_SOURCE_DIR) + "/models/demo";
  const char* argv[] = {STRATA_CLI, "chat", model.c_str(), "-n", "100000", "--context", "120000", "--temp", "0.8",
                        "--seed", "1", nullptr};
  pid_t pid = -1;
  ASSERT_EQ(posix_spawn(&pid, STRATA_CLI, &actions, nullptr, const_cast<char**>(argv), environ), 0);
  posix_spawn_file_actions_destroy(&actions);
  close(in[0]);
  close(out[1]);

  const std::string turn = "Tell me a very long story.\n";
  ASSERT_EQ(write(in[1], turn.data(), turn.size()), static_cast<ssize_t>(turn.size()));
  // Wait until the answer is streaming, then interrupt it.
  std::string output;
  char buffer[4096];
  fcntl(out[0], F_SETFL, O_NONBLOCK);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (output.size() < 200 && std::chrono::steady_clock::now() < deadline) {
    const ssize_t n = read(out[0], buffer, sizeof(buffer));
    if (n > 0) output.append(buffer, static_cast<size_t>(n));
    else std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_GE(output.size(), 200u) << "the answer never streamed: " << output;
  kill(pid, SIGINT);
  const std::string rest = "/stats\n/quit\n";
  ASSERT_EQ(write(in[1], rest.data(), rest.size()), static_cast<ssize_t>(rest.size()));
  close(in[1]);
  fcntl(out[0], F_SETFL, 0);
  ssize_t n;
  while ((n = read(out[0], buffer, sizeof(buffer))) > 0) output.append(buffer, static_cast<size_t>(n));
  close(out[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status)) << "strata chat died of signal " << WTERMSIG(status);
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_NE(output.find("[stopped]"), std::string::npos) << output.substr(output.size() > 300 ? output.size() - 300 : 0);
  EXPECT_NE(output.find("last turn: prompt"), std::string::npos) << "the /stats after the interrupted answer ran";
}

}  // namespace
