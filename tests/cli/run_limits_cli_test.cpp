// `strata run` checks the context before any work (a prompt that fills it is an error; -n past it is
// capped with a warning; --max-context overrides the model's max_position_embeddings) and stops cleanly
// on Ctrl-C: the text so far, a newline, the --verbose summary, exit status 130.
#include <string>

#include "run_cli.h"

namespace strata::testing {
namespace {

TEST(RunLimitsCli, TooManyNewTokensAreCappedWithAWarning) {
  const CliResult r = run_strata("run", "-p", "Once upon a time", "-n", "1000000", "--max-context", "16",
                                 "--temperature", "0", "--verbose");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("warning: prompt (5 tokens) + -n 1000000 exceeds the context of 16 (--max-context); "
                       "generating at most 11 tokens"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("generated 11 tokens"), std::string::npos) << r.err;
}

TEST(RunLimitsCli, TheModelsOwnContextIsTheDefaultLimit) {
  const CliResult r = run_strata("run", "-p", "Once upon a time", "-n", "5000", "--temperature", "0", "--verbose",
                                 "--stop", "the");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("exceeds the context of 4096 (the model's max_position_embeddings); generating at most 4091"),
            std::string::npos)
      << r.err;
}

TEST(RunLimitsCli, APromptThatFillsTheContextIsAnError) {
  const CliResult r = run_strata("run", "-p", "Once upon a time there was", "--max-context", "4");
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(r.err,
            "error: the prompt is 7 tokens but the context is 4 (--max-context): shorten the prompt or raise "
            "--max-context\n");
  EXPECT_EQ(r.out, "");
}

TEST(RunLimitsCli, CtrlCStopsWithTheTextANewlineAndTheSummary) {
  // Waits until generation is under way (the prompt is 16 bytes), then interrupts.
  const std::string out = "/tmp/strata_ctrl_c_" + std::to_string(getpid());
  std::string command = "(";  // one subshell, so the stderr capture covers the background process
  command.append(shell_quote(STRATA_CLI))
      .append(" run -p 'Once upon a time' -n 100000 --temperature 0 --verbose > ")
      .append(out)
      .append(" & pid=$!; for i in $(seq 300); do [ $(wc -c < ")
      .append(out)
      .append(") -gt 60 ] && break; sleep 0.1; done; kill -INT $pid; wait $pid; echo \"rc=$?\"; cat ")
      .append(out)
      .append("; rm -f ")
      .append(out)
      .append(")");
  const CliResult r = run_shell(command);
  EXPECT_EQ(r.out.rfind("rc=130\nOnce upon a time", 0), 0u) << r.out;
  EXPECT_EQ(r.out.back(), '\n');
  EXPECT_NE(r.err.find("generated "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("tokens/s decode"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace strata::testing
