// Sampling defaults come from the model's generation_config.json where no flag is given, flags override
// them, and --verbose prints the values in force. The model is the demo model (linked file by file into a
// temporary directory) with a generation_config.json of our own.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "run_cli.h"

namespace strata::testing {
namespace {

namespace fs = std::filesystem;

struct DemoWithGenerationConfig {
  fs::path dir;
  explicit DemoWithGenerationConfig(const std::string& config) {
    dir = fs::temp_directory_path() / ("strata_gencfg_" + std::to_string(getpid()) + "_" + std::to_string(rand()));
    fs::create_directories(dir);
    for (const auto& entry : fs::directory_iterator(fs::path(STRATA_SOURCE_DIR) / "models/demo"))
      if (entry.path().filename() != "generation_config.json") fs::create_symlink(entry.path(), dir / entry.path().filename());
    std::ofstream(dir / "generation_config.json") << config;
  }
  ~DemoWithGenerationConfig() { fs::remove_all(dir); }
};

TEST(GenerationConfigCli, TheModelsDefaultsApplyWhereNoFlagIsGiven) {
  const DemoWithGenerationConfig model(R"({"temperature": 0.0, "top_p": 0.9, "repetition_penalty": 1.1})");
  // temperature 0 from the file: greedy, so different seeds give the same text ...
  const CliResult a = run_strata("run", model.dir.string(), "-p", "Once upon a time", "-n", "16", "--seed", "1", "--verbose");
  const CliResult b = run_strata("run", model.dir.string(), "-p", "Once upon a time", "-n", "16", "--seed", "2");
  ASSERT_EQ(a.status, 0) << a.err;
  EXPECT_EQ(a.out, b.out);
  EXPECT_NE(a.err.find("sampling: temperature 0 (generation_config.json), top_k 0, top_p 0.9 (generation_config.json), "
                       "min_p 0, repetition_penalty 1.1 (generation_config.json)"),
            std::string::npos)
      << a.err;
  // ... and equal to greedy with the same penalty given as flags on the plain demo model.
  const CliResult flags = run_strata("run", "models/demo", "-p", "Once upon a time", "-n", "16", "--temperature", "0",
                                     "--top-p", "0.9", "--repeat-penalty", "1.1");
  EXPECT_EQ(flags.out, a.out);
}

TEST(GenerationConfigCli, FlagsOverrideTheModel) {
  const DemoWithGenerationConfig model(R"({"temperature": 0.0})");
  const CliResult r = run_strata("run", model.dir.string(), "-p", "Once upon a time", "-n", "4", "--temperature", "0.7",
                                 "--seed", "3", "--verbose");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("sampling: temperature 0.7, top_k 0"), std::string::npos) << r.err;
}

TEST(GenerationConfigCli, AMalformedFileIsNamed) {
  const DemoWithGenerationConfig model(R"({"temperature": "hot"})");
  const CliResult r = run_strata("run", model.dir.string(), "-p", "hi", "-n", "1");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("generation_config.json: 'temperature' must be a number"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace strata::testing
