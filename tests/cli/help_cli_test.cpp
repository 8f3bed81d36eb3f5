// --help shows every option's default, and a mistyped option gets the nearest real one suggested: one
// error line, exit 2.
#include <string>
#include <vector>

#include "run_cli.h"

namespace strata::testing {
namespace {

TEST(HelpCli, EveryCommandsHelpShowsDefaults) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"run", "--help"}, "-n,--max-tokens INT=128"},
      {{"run", "--help"}, "--device TEXT=cpu"},
      {{"bench", "--help"}, "--precision TEXT=fast"},
      {{"perplexity", "--help"}, "--context INT=256"},
      {{"serve", "--help"}, "--port INT=8080"},
      {{"plan", "--help"}, "--context"},
  };
  for (const auto& [args, expected] : cases) {
    std::string command = shell_quote(STRATA_CLI);
    for (const std::string& a : args) command.append(" ").append(shell_quote(a));
    const CliResult r = run_shell(command);
    EXPECT_EQ(r.status, 0) << args[0] << ": " << r.err;
    EXPECT_NE(r.out.find(expected), std::string::npos) << args[0] << " --help lacks '" << expected << "':\n" << r.out;
  }
}

TEST(HelpCli, AMistypedOptionGetsTheNearestOne) {
  const CliResult r = run_strata("run", "--temprature", "0.5", "-p", "hi");
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(r.err, "error: unknown option '--temprature' for 'strata run' (did you mean '--temperature'?); see "
                   "'strata run --help'\n");
  const CliResult far = run_strata("bench", "--completely-unrelated-flag");
  EXPECT_EQ(far.status, 2);
  EXPECT_NE(far.err.find("unknown option '--completely-unrelated-flag' for 'strata bench'"), std::string::npos) << far.err;
  EXPECT_EQ(far.err.find("did you mean"), std::string::npos) << far.err;
  const CliResult eq = run_strata("run", "--top_k=3", "-p", "hi");
  EXPECT_NE(eq.err.find("did you mean '--top-k'"), std::string::npos) << eq.err;
}

}  // namespace
}  // namespace strata::testing
