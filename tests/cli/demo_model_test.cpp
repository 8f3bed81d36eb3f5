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
  EXPECT_NE(missing.err.find("cannot read"), std::string::npos) << missing.err;
  const auto tiny = testing::run_strata("perplexity", kDemo.string(), "-f", (kDemo / "heldout.txt").string(),
                                        "--context", "1");
  EXPECT_EQ(tiny.status, 2);
}

}  // namespace
}  // namespace strata
