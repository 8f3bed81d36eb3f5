// `strata plan` run as a user runs it: exit codes 0/2, one `error:` line on bad input, --json parses.
#include <gtest/gtest.h>

#include <string>

#include <nlohmann/json.hpp>

#include "run_cli.h"

namespace {

using Result = strata::testing::CliResult;

// Runs `strata plan <args>` from the repository root (args are shell words, quoted by the caller).
Result plan(const std::string& args) { return strata::testing::run_strata_words("plan", args); }

void expect_bad_input(const std::string& args, const std::string& part) {
  SCOPED_TRACE(args);
  strata::testing::expect_one_line_error(plan(args), part);
}

TEST(PlanCli, Dsv4ProJson) {
  const Result r = plan("--preset dsv4-pro --context 1048576 --json");
  ASSERT_EQ(r.status, 0) << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["main"]["bytes_per_token"].get<double>(), 9848.0);
  EXPECT_EQ(j["main"]["growing_bytes_per_sequence"].get<int64_t>(), int64_t{9848} * 1048576);
  EXPECT_EQ(j["main_layer_count"], 61);
  EXPECT_EQ(j["mtp_layer_count"], 1);
  EXPECT_EQ(j["sequences_that_fit"], nullptr);
}

TEST(PlanCli, Dsv4FlashTableAndBudget) {
  const Result r = plan("--preset dsv4-flash --context 1048576 --sequences 2 --budget-gib 80");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("6,880 B"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("11 sequences"), std::string::npos) << r.out;  // 80 GiB / 6.73 GiB
}

TEST(PlanCli, NemotronExampleConfig) {
  const Result r = plan("--config examples/nemotron_h_8b_config.json --context 8192 --sequences 16 --json");
  ASSERT_EQ(r.status, 0) << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  const int64_t mamba_fixed = 24 * ((8192 + 2 * 8 * 128) * 3 * 4 + 128 * 64 * 128 * 4);
  EXPECT_EQ(j["main"]["fixed_bytes_per_sequence"].get<int64_t>(), mamba_fixed);
  // K+V in f32, as the engine allocates them: 4 layers · 2 · 8 heads · 128 · 4 B = 32 KiB per token.
  EXPECT_EQ(j["cache_dtype"], "f32");
  EXPECT_EQ(j["bytes_per_sequence"].get<int64_t>(), mamba_fixed + int64_t{32768} * 8192);
  EXPECT_EQ(j["total_bytes"].get<int64_t>(), 16 * (mamba_fixed + int64_t{32768} * 8192));
  const Result table = plan("--config examples/nemotron_h_8b_config.json --context 8192 --sequences 16");
  ASSERT_EQ(table.status, 0) << table.err;
  EXPECT_NE(table.out.find("32,768 B"), std::string::npos) << table.out;
  const Result bf16 = plan("--config examples/nemotron_h_8b_config.json --context 8192 --cache-dtype bf16 --json");
  EXPECT_EQ(nlohmann::json::parse(bf16.out)["main"]["bytes_per_token"].get<double>(), 16384);
}

// Falcon-H1: every layer holds a Mamba2 state (conv (96 + 2·2·8)·3, SSM 6·16·8, f32) and K+V (2·2·16, f32).
TEST(PlanCli, FalconH1ParallelLayersHoldBoth) {
  const Result r = plan("--config tests/fixtures/models/falcon_h1_norm/config.json --context 1000 --json");
  ASSERT_EQ(r.status, 0) << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["main"]["fixed_bytes_per_sequence"].get<int64_t>(), 3 * ((96 + 2 * 2 * 8) * 3 * 4 + 6 * 16 * 8 * 4));
  EXPECT_EQ(j["main"]["bytes_per_token"].get<double>(), 3 * 2 * 2 * 16 * 4);
}

// One dtype story: plan on a model's config.json, info on its directory and the engine's cache options
// agree on the state and KV dtypes and so on every byte count.
TEST(PlanCli, PlanAndInfoAgreeWithTheEngine) {
  for (const std::string model : {"nemotron_h_hybrid", "falcon_h1_norm", "zamba2", "mamba2_g1"}) {
    const std::string dir = "tests/fixtures/models/" + model;
    const Result p = plan("--config " + dir + "/config.json --context 4096 --json");
    ASSERT_EQ(p.status, 0) << p.err;
    const Result info = strata::testing::run_strata("info", dir, "--context", "4096", "--json");
    ASSERT_EQ(info.status, 0) << info.err;
    const nlohmann::json planned = nlohmann::json::parse(p.out), described = nlohmann::json::parse(info.out)["memory"];
    EXPECT_EQ(planned["state_dtype"], "f32") << model;
    EXPECT_EQ(planned["cache_dtype"], "f32") << model;
    for (const char* key : {"state_dtype", "cache_dtype", "bytes_per_sequence"})
      EXPECT_EQ(planned[key], described[key]) << model << " " << key;
    EXPECT_EQ(planned["main"], described["main"]) << model;
  }
}

TEST(PlanCli, PatternWithDimFlagsAndDtypes) {
  const Result r = plan(
      "--pattern 'M*-' --mamba-heads 4 --mamba-head-dim 8 --mamba-state 16 --mamba-groups 2 --kv-heads 2 "
      "--head-dim 32 --context 100 --state-dtype bf16 --cache-dtype f32 --json");
  ASSERT_EQ(r.status, 0) << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["main"]["fixed_bytes_per_sequence"].get<int64_t>(), (32 + 2 * 2 * 16) * 3 * 2 + 4 * 8 * 16 * 2);
  EXPECT_EQ(j["main"]["bytes_per_token"].get<double>(), 2 * 2 * 32 * 4);
  EXPECT_EQ(j["state_dtype"], "bf16");
}

TEST(PlanCli, BadInputExitsTwoWithOneErrorLine) {
  expect_bad_input("--preset dsv4-ultra", "dsv4-ultra");
  expect_bad_input("--config /nonexistent/config.json", "/nonexistent/config.json");
  expect_bad_input("--config examples", "examples");
  expect_bad_input("--pattern 'MX'", "'X'");
  expect_bad_input("--pattern 'M'", "--mamba-heads");
  expect_bad_input("", "--preset");
  expect_bad_input("--preset dsv4-pro --config examples/nemotron_h_8b_config.json", "excludes");
  expect_bad_input("--preset dsv4-pro --context -5", "negative");
  expect_bad_input("--preset dsv4-pro --context abc", "context");
  expect_bad_input("--preset dsv4-pro --context 99999999999999999999999", "context");
  expect_bad_input("--preset dsv4-pro --sequences 0", "sequences");
  expect_bad_input("--preset dsv4-pro --budget-gib nan", "budget");
  expect_bad_input("--preset dsv4-pro --budget-gib -1", "budget");
  expect_bad_input("--preset dsv4-pro --state-dtype q4", "q4");
  expect_bad_input("--preset nemotron-h-8b --mamba-heads 1125899906842624 --mamba-groups 1", "at most 2147483647");
  // Each dim within bounds, their product past 64 bits.
  expect_bad_input("--preset nemotron-h-8b --mamba-heads 2147483647 --mamba-groups 1 --mamba-head-dim 2147483647",
                   "overflows");
  expect_bad_input("--preset nemotron-h-8b --head-dim -3", "--head-dim");
  expect_bad_input("--preset \"$(printf 'a\\nb')\"", "unknown preset");
}

}  // namespace
