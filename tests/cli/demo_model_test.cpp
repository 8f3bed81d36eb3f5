// The bundled demo model (models/demo) against transformers' figures committed beside it:
// `strata perplexity` on the held-out text within 0.1% of transformers' perplexity.
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "run_cli.h"

namespace strata {
namespace {

namespace fs = std::filesystem;
const fs::path kDemo = fs::path(STRATA_SOURCE_DIR) / "models/demo";

nlohmann::json reference(const char* name) {
  std::ifstream in(kDemo / name);
  return nlohmann::json::parse(in);
}

TEST(DemoModel, PerplexityMatchesTransformers) {
  const auto ref = reference("perplexity_reference.json");
  const auto r = testing::run_strata("perplexity", kDemo.string(), "-f", (kDemo / "heldout.txt").string(), "--context",
                                     std::to_string(ref["window"].get<int>()), "--json");
  ASSERT_EQ(r.status, 0) << r.err;
  const auto got = nlohmann::json::parse(r.out);
  EXPECT_EQ(got["tokens"], ref["tokens"]);
  EXPECT_EQ(got["windows"], ref["windows"]);
  EXPECT_EQ(got["scored_tokens"], ref["scored_tokens"]);
  const double want = ref["perplexity"].get<double>();
  EXPECT_NEAR(got["perplexity"].get<double>(), want, 1e-3 * want) << "transformers: " << want;
}

TEST(DemoModel, PerplexityRejectsBadInput) {
  const auto missing = testing::run_strata("perplexity", kDemo.string(), "-f", "/nonexistent/text.txt");
  EXPECT_EQ(missing.status, 2);
  EXPECT_NE(missing.err.find("'/nonexistent/text.txt' does not exist"), std::string::npos) << missing.err;
  const auto tiny = testing::run_strata("perplexity", kDemo.string(), "-f", (kDemo / "heldout.txt").string(),
                                        "--context", "1");
  EXPECT_EQ(tiny.status, 2);
}

}  // namespace
}  // namespace strata

namespace strata {
namespace {

// `strata run` without a model directory uses the bundled demo model; greedy output must be exactly the
// text of transformers' greedy ids (the ids themselves are checked in tests/engine/demo_greedy_test.cpp).
TEST(DemoModel, RunGreedyPrintsTransformersText) {
  const auto ref = reference("greedy_reference.json");
  const auto r = testing::run_strata("run", "-p", ref["prompt"].get<std::string>(), "-n",
                                     std::to_string(ref["generated_ids"].size()), "--temperature", "0", "--no-echo",
                                     "--ignore-eos");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, ref["generated_text"].get<std::string>() + "\n");
}

TEST(DemoModel, RunRejectsBadInput) {
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"run", "-p", "x", "--top-p", "2"},
           {"run", "-p", "x", "--temperature", "-1"},
           {"run", "-p", "x", "-n", "0"},
           {"run"},
           {"run", "-f", "/nonexistent/prompt.txt"},
           {"run", "/nonexistent/model", "-p", "x"}}) {
    std::string command;
    testing::CliResult r;
    if (args.size() == 1) r = testing::run_strata(args[0]);
    else if (args.size() == 3) r = testing::run_strata(args[0], args[1], args[2]);
    else if (args.size() == 4) r = testing::run_strata(args[0], args[1], args[2], args[3]);
    else r = testing::run_strata(args[0], args[1], args[2], args[3], args[4]);
    for (const auto& a : args) command += a + " ";
    EXPECT_EQ(r.status, 2) << command << r.err;
    EXPECT_TRUE(r.err.starts_with("error: ")) << command << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << command << r.err;
  }
}

}  // namespace
}  // namespace strata
