// Progress of long work (perplexity windows, prefill of a long prompt, bench steps) is one line on stderr,
// redrawn with '\r' and erased at the end, drawn only when stderr is a terminal (STRATA_PROGRESS=1 forces
// it, =0 turns it off) and never with --json; stdout is the same with or without it.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "run_cli.h"

namespace strata::testing {
namespace {

const std::string kErase = "\r\x1b[K";
const std::string kPerplexity =
    "perplexity models/demo -f models/demo/heldout.txt --context 64 --max-windows 8 --parallel 2";

CliResult strata_with(const std::string& environment, const std::string& words) {
  return run_shell(environment + " " + shell_quote(STRATA_CLI) + " " + words);
}

TEST(ProgressCli, PerplexityShowsWindowsWhenForcedAndErasesTheLine) {
  const CliResult shown = strata_with("STRATA_PROGRESS=1", kPerplexity);
  ASSERT_EQ(shown.status, 0) << shown.err;
  EXPECT_EQ(shown.err.rfind("\rperplexity 2/8 windows (25%)\x1b[K", 0), 0u) << shown.err;
  EXPECT_TRUE(shown.err.ends_with(kErase)) << shown.err;
  EXPECT_EQ(shown.err.find('\n'), std::string::npos) << shown.err;  // one line, redrawn in place

  const CliResult plain = strata_with("", kPerplexity);  // stderr is a file here, not a terminal
  ASSERT_EQ(plain.status, 0) << plain.err;
  EXPECT_EQ(plain.err, "");
  EXPECT_EQ(plain.out, shown.out);
  EXPECT_EQ(strata_with("STRATA_PROGRESS=0", kPerplexity).err, "");
  EXPECT_EQ(strata_with("STRATA_PROGRESS=1", kPerplexity + " --json").err, "");  // never with --json
}

TEST(ProgressCli, OnATerminalItIsDrawnWithoutBeingForced) {
  if (run_shell("script -qec true /dev/null").status != 0) GTEST_SKIP() << "no script(1) to give a terminal";
  const std::string out = (std::filesystem::temp_directory_path() / ("strata_progress_" + std::to_string(getpid()))).string();
  // script(1) runs the command on a pseudo-terminal: stderr is a TTY, stdout goes to a file.
  auto on_terminal = [&](const std::string& words) {
    return run_shell("script -qec " + shell_quote("env -u STRATA_PROGRESS " + shell_quote(STRATA_CLI) + " " + words +
                                                  " > " + shell_quote(out)) + " /dev/null");
  };
  const CliResult tty = on_terminal(kPerplexity);
  EXPECT_EQ(tty.status, 0) << tty.out;
  EXPECT_NE(tty.out.find("\rperplexity 2/8 windows"), std::string::npos) << tty.out;
  const CliResult json = on_terminal(kPerplexity + " --json");
  EXPECT_EQ(json.status, 0) << json.out;
  EXPECT_EQ(json.out.find("perplexity"), std::string::npos) << json.out;
  std::filesystem::remove(out);
}

TEST(ProgressCli, PrefillOfALongPromptShowsTokensAndTheOutputIsUnchanged) {
  const std::filesystem::path prompt =
      std::filesystem::temp_directory_path() / ("strata_progress_prompt_" + std::to_string(getpid()) + ".txt");
  {
    std::ifstream in(std::string(STRATA_SOURCE_DIR) + "/models/demo/heldout.txt");
    std::string text(6000, '\0');
    in.read(text.data(), static_cast<std::streamsize>(text.size()));  // well over one 512-token step
    std::ofstream(prompt) << text.substr(0, static_cast<size_t>(in.gcount()));
  }
  const std::string words = "run models/demo -f " + shell_quote(prompt.string()) + " -n 4 --temperature 0";
  const CliResult shown = strata_with("STRATA_PROGRESS=1", words);
  ASSERT_EQ(shown.status, 0) << shown.err;
  EXPECT_EQ(shown.err.rfind("\rprefill ", 0), 0u) << shown.err;
  EXPECT_NE(shown.err.find(" tokens ("), std::string::npos) << shown.err;
  EXPECT_TRUE(shown.err.ends_with(kErase)) << shown.err;
  const CliResult plain = strata_with("STRATA_PROGRESS=0", words);
  ASSERT_EQ(plain.status, 0) << plain.err;
  EXPECT_EQ(plain.err, "");
  EXPECT_EQ(shown.out, plain.out);  // the prompt is echoed once prefill ends, then the continuation
  // A short prompt draws nothing even when forced: it is one step.
  EXPECT_EQ(strata_with("STRATA_PROGRESS=1", "run models/demo -p 'Once upon a time' -n 2").err, "");
  std::filesystem::remove(prompt);
}

TEST(ProgressCli, BenchShowsStepsPerConfiguration) {
  const std::string words = "bench models/demo -p 16 -n 4 -b 1 -r 2";
  const CliResult shown = strata_with("STRATA_PROGRESS=1", words);
  ASSERT_EQ(shown.status, 0) << shown.err;
  EXPECT_EQ(shown.err.rfind("\rbench batch 1, prompt 16: 1/10 steps (10%)\x1b[K", 0), 0u) << shown.err;
  EXPECT_TRUE(shown.err.ends_with(kErase)) << shown.err;
  EXPECT_EQ(strata_with("STRATA_PROGRESS=1", words + " --json").err, "");
}

}  // namespace
}  // namespace strata::testing
