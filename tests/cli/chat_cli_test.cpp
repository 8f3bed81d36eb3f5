// `strata chat` driven through stdin over the demo model (no chat template: the plain transcript):
// a follow-up turn reuses the previous turn's stored state, /save and /load carry the messages and the
// state across a /reset (the next turn computes only its new tokens), and a corrupt or truncated
// conversation file is refused with a message.
#include <filesystem>
#include <fstream>
#include <regex>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "run_cli.h"

namespace {

namespace fs = std::filesystem;
using strata::testing::run_shell;
using strata::testing::shell_quote;

strata::testing::CliResult chat(const std::string& input, const std::string& flags = "--temp 0 -n 12") {
  const fs::path script = fs::temp_directory_path() / ("strata_chat_" + std::to_string(::getpid()) + ".txt");
  std::ofstream(script) << input;
  auto r = run_shell("( " + shell_quote(STRATA_CLI) + " chat " + flags + " < " + shell_quote(script.string()) + " )");
  fs::remove(script);
  return r;
}

// The (reused, computed) pairs of every /stats line, in order.
std::vector<std::pair<int, int>> reuse(const std::string& out) {
  std::vector<std::pair<int, int>> found;
  const std::regex pattern(R"(\((\d+) reused from the stored state, (\d+) computed\))");
  for (auto it = std::sregex_iterator(out.begin(), out.end(), pattern); it != std::sregex_iterator(); ++it)
    found.emplace_back(std::stoi((*it)[1]), std::stoi((*it)[2]));
  return found;
}

TEST(ChatCli, TurnsReuseStateAndSaveLoadResumesIt) {
  const fs::path saved = fs::temp_directory_path() / ("strata_conv_" + std::to_string(::getpid()) + ".bin");
  const auto r = chat("Tell me a story.\n/stats\nAnd then?\n/stats\n/save " + saved.string() +
                      "\n/reset\n/stats\n/load " + saved.string() + "\nWhat next?\n/stats\n/quit\n");
  ASSERT_EQ(r.status, 0) << r.out << r.err;
  const auto pairs = reuse(r.out);
  ASSERT_EQ(pairs.size(), 3u) << r.out;
  EXPECT_EQ(pairs[0].first, 0);               // the first turn has nothing stored
  EXPECT_GT(pairs[1].first, pairs[0].second);  // the second resumes after the whole first turn
  EXPECT_GT(pairs[2].first, pairs[1].first);   // after /reset + /load: resumes after both turns
  EXPECT_LE(pairs[2].second, 16) << "only the new user line is computed";
  EXPECT_NE(r.out.find("conversation reset"), std::string::npos);
  EXPECT_NE(r.out.find("loaded 4 messages"), std::string::npos) << r.out;

  // A corrupt and a truncated file: one error line each, the conversation goes on.
  const fs::path corrupt = saved.string() + ".corrupt", truncated = saved.string() + ".truncated";
  std::ofstream(corrupt) << "definitely not a conversation";
  fs::copy_file(saved, truncated, fs::copy_options::overwrite_existing);
  fs::resize_file(truncated, fs::file_size(saved) - 100);
  const auto bad = chat("/load " + corrupt.string() + "\n/load " + truncated.string() + "\nHello\n/stats\n/quit\n");
  EXPECT_EQ(bad.status, 0) << bad.err;
  EXPECT_NE(bad.out.find("error: " + corrupt.string() + ": not a strata conversation file"), std::string::npos) << bad.out;
  EXPECT_NE(bad.out.find("error: " + truncated.string() + ": "), std::string::npos) << bad.out;
  EXPECT_EQ(reuse(bad.out).size(), 1u) << bad.out;
  for (const fs::path& p : {saved, corrupt, truncated}) fs::remove(p);
}

TEST(ChatCli, UnknownCommandsAndBadFlags) {
  const auto r = chat("/frobnicate\n/save\n/quit\n");
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.out.find("error: unknown command /frobnicate"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("error: /save needs a file name"), std::string::npos) << r.out;
  strata::testing::expect_one_line_error(chat("", "--temperature -1"), "temperature");
}

}  // namespace
