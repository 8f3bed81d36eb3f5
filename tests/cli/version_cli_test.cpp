// `strata --version`: the version, the git revision of the checkout the binary was configured from, and
// the backends this build has (CUDA named as built or not, matching STRATA_HAVE_CUDA).
#include <string>

#include "run_cli.h"

namespace strata::testing {
namespace {

TEST(VersionCli, PrintsVersionRevisionAndBackends) {
  const CliResult r = run_strata("--version");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out.rfind("strata 0.1.0 (git ", 0), 0u) << r.out;
  // The revision is the checkout's (git describe of the source tree), when git can read it.
  const CliResult git = run_shell("git describe --always --abbrev=12 2>/dev/null");
  if (git.status == 0 && !git.out.empty()) {
    const std::string revision = git.out.substr(0, git.out.find('\n'));
    EXPECT_NE(r.out.find("(git " + revision), std::string::npos) << r.out << " vs " << revision;
  }
  EXPECT_NE(r.out.find("backends: CPU ("), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(STRATA_HAVE_CUDA ? "CUDA (sm_90a): built" : "CUDA: not built"), std::string::npos) << r.out;
}

TEST(VersionCli, StillNeedsACommandWithoutIt) {
  const CliResult r = run_strata();
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("needs a command"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace strata::testing
