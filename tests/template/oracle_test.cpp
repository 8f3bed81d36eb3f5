// strata against Jinja2, byte for byte, without needing Python: every case of
// tests/fixtures/templates/expected.json (the families' chat templates with each message set, and the
// feature snippets) rendered by strata must give exactly what python3-jinja2, set up as transformers sets
// it up, gave when tools/render_jinja.py --fixtures wrote the file; where Jinja2 raised, strata must
// raise too. live_oracle_test.cpp re-runs Jinja2 itself when it is installed.
#include <gtest/gtest.h>

#include "oracle_cases.h"

namespace strata::testing {
namespace {

class JinjaOracle : public ::testing::TestWithParam<OracleCase> {};

TEST_P(JinjaOracle, RendersLikeJinja2) {
  const OracleCase& c = GetParam();
  if (c.is_volatile) GTEST_SKIP() << "depends on the clock: compared in LiveJinja2 only";
  expect_matches_jinja(render_with_strata(c.name, c.source, c.context), c.output, c.error, c.error_type);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, JinjaOracle, ::testing::ValuesIn(load_oracle_cases()),
                         [](const ::testing::TestParamInfo<OracleCase>& info) {
                           return test_name(info.param.name);
                         });

// The fixture set keeps covering what the brief asks for: each family's template with each message set.
TEST(JinjaOracleFixtures, CoverEveryTemplateWithEveryMessageSet) {
  const auto cases = load_oracle_cases();
  for (const char* family :
       {"nemotron_nano_v2_vllm/", "nemotron_nano_v2_llamacpp/", "nemotron_3_nano/", "granite_4_0/",
        "falcon_h1_style/", "mistral_nemo/", "mistral_tools_vllm/", "chatml/"}) {
    for (const char* context : {"system_user", "user_no_generation", "multi_turn", "tool_calls",
                                "empty_content", "unicode", "reasoning_off", "reasoning_on"}) {
      const std::string name = std::string(family) + context;
      EXPECT_TRUE(std::any_of(cases.begin(), cases.end(), [&](const OracleCase& c) {
        return c.name == name;
      })) << name;
    }
  }
  const auto rendered =
      std::count_if(cases.begin(), cases.end(), [](const OracleCase& c) { return c.output.has_value(); });
  EXPECT_GT(rendered, 250) << "most cases should render; errors are the minority";
}

}  // namespace
}  // namespace strata::testing
