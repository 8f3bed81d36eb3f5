// Path errors name what the user typed and where it came from: the MODEL_DIR argument, $STRATA_MODEL,
// a file given where a directory belongs, a directory or a device given as a prompt file. One error
// line, exit status 2, for every command that loads a model.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "run_cli.h"

namespace strata::testing {
namespace {

void expect_error(const CliResult& r, const std::string& text) {
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_NE(r.err.find(text), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_EQ(r.err.rfind("error: ", 0), 0u) << r.err;
}

TEST(ModelDirCli, AMissingDirectoryIsNamedForEveryCommand) {
  expect_error(run_strata("run", "/nope", "-p", "hi"), "MODEL_DIR '/nope' does not exist");
  expect_error(run_strata("info", "/nope"), "MODEL_DIR '/nope' does not exist");
  expect_error(run_strata("perplexity", "/nope", "-f", "README.md"), "MODEL_DIR '/nope' does not exist");
  expect_error(run_strata("bench", "/nope"), "MODEL_DIR '/nope' does not exist");
  expect_error(run_strata("logits", "/nope", "--input", "x", "--out", "y"), "MODEL_DIR '/nope' does not exist");
}

TEST(ModelDirCli, AFileIsNotAModelDirectory) {
  expect_error(run_strata("run", "README.md", "-p", "hi"), "MODEL_DIR 'README.md' is a file, not a model directory");
  expect_error(run_strata("info", "models/demo/config.json"), "is a file, not a model directory");
}

TEST(ModelDirCli, ADirectoryWithoutConfigIsNamed) {
  expect_error(run_strata("info", "tests"), "MODEL_DIR 'tests' has no config.json");
}

TEST(ModelDirCli, TheEnvironmentVariableIsNamed) {
  expect_error(run_shell("STRATA_MODEL=/nope " + shell_quote(STRATA_CLI) + " run -p hi -n 1"),
               "$STRATA_MODEL='/nope' does not exist");
}

TEST(ModelDirCli, APromptFileMustBeARegularFile) {
  expect_error(run_strata("run", "models/demo", "-f", "tests", "-n", "1"), "-f 'tests' is not a regular file");
  expect_error(run_strata("run", "models/demo", "-f", "/dev/zero", "-n", "1"), "-f '/dev/zero' is not a regular file");
}

TEST(ModelDirCli, UserTextWithNewlinesStaysOnOneErrorLine) {
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("strata_newline_" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "config.json") << R"({"model_type": "evil\nerror: forged line", "hidden_size": 8})";
  expect_error(run_strata("info", dir.string()), "evil\\nerror: forged line");
  expect_error(run_strata("bench", dir.string(), "-p", "1", "-n", "1"), "evil\\nerror: forged line");
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace strata::testing
