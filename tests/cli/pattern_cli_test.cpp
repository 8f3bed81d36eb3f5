// `strata pattern ...` as a user runs it: JSON shapes, exit codes, and hostile input that must
// produce one `error:` line and exit status 2, never a crash.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "run_cli.h"

namespace strata {
namespace {

using testing::run_strata;

nlohmann::json json_of(const testing::CliResult& r) {
  EXPECT_EQ(r.status, 0) << r.err;
  return nlohmann::json::parse(r.out);
}


TEST(PatternCli, ParseJson) {
  EXPECT_EQ(run_strata("pattern", "parse", "M*M*/MM/MM", "--json").out,
            "{\"main\":\"M*M*\",\"mtp\":\"MM\",\"mtp_depths\":2}\n");
  const auto j = json_of(run_strata("pattern", "parse", "/MM", "--json"));
  EXPECT_TRUE(j["main"].is_null());
  EXPECT_EQ(j["mtp"], "MM");
  const auto empty = json_of(run_strata("pattern", "parse", "", "--json"));
  EXPECT_EQ(empty["main"], "");
  EXPECT_TRUE(empty["mtp"].is_null());
  EXPECT_TRUE(json_of(run_strata("pattern", "parse", "/", "--json"))["main"].is_null());
}

TEST(PatternCli, AllocateMapsCounts) {
  EXPECT_EQ(json_of(run_strata("pattern", "allocate", "--layers", "10", "--attention-ratio", "0.25", "--json"))["layers"],
            "MMM*MM*MMM");
  // Ratios are read as Python's float() reads them: underscores and whitespace allowed.
  EXPECT_EQ(json_of(run_strata("pattern", "allocate", "--layers", "1_2", "--attention-ratio", " 0.75 ", "--json"))["layers"],
            "*M****M***M*");
  EXPECT_EQ(json_of(run_strata("pattern", "allocate", "--layers", "10", "--attention-ratio", "0.2", "--override",
                               "M*MMMMMM*M", "--json"))["layers"],
            "M*MMMMMM*M");
  const auto maps = json_of(run_strata("pattern", "maps", "M*M-E", "--json"));
  EXPECT_EQ(maps.dump(), R"({"*":{"1":0},"-":{"3":0},"E":{"4":0},"M":{"0":0,"2":1}})");  // nlohmann sorts on parse
  EXPECT_EQ(run_strata("pattern", "maps", "M*M-E", "--json").out,
            "{\"*\":{\"1\":0},\"M\":{\"0\":0,\"2\":1},\"-\":{\"3\":0},\"E\":{\"4\":0}}\n");
  EXPECT_EQ(run_strata("pattern", "counts", "M-M-M-M*-/MM/MM", "--json").out,
            "{\"M\":8,\"*\":1,\"-\":4,\"E\":0}\n");
  EXPECT_EQ(run_strata("pattern", "allocate", "--layers", "8", "--mlp-ratio", "0.125").out, "MMMMMMM-\n");
}

TEST(PatternCli, HostileInputIsOneErrorLineAndExitTwo) {
  testing::expect_one_line_error(run_strata("pattern", "parse", "MX", "--json"), "'X' is not a valid layer symbol");
  testing::expect_one_line_error(run_strata("pattern", "parse", "MM/M*/MM"), "All MTP patterns must be identical");
  testing::expect_one_line_error(run_strata("pattern", "parse", "M\nM"), "'\\n'");
  testing::expect_one_line_error(run_strata("pattern", "parse", "M\xff\xfe"), "'\\xff'");
  testing::expect_one_line_error(run_strata("pattern", "maps", "M/M"), "'/'");
  testing::expect_one_line_error(run_strata("pattern", "counts", "M*/X"), "In MTP pattern");
  testing::expect_one_line_error(run_strata("pattern", "allocate", "--layers", "abc"), "--layers");
  testing::expect_one_line_error(run_strata("pattern", "allocate", "--layers", "99999999999999999999999"), "--layers");
  testing::expect_one_line_error(run_strata("pattern", "allocate", "--layers", "0"), "must be > 0");
  testing::expect_one_line_error(run_strata("pattern", "allocate", "--layers", "4", "--attention-ratio", "0x1p-2"),
                        "could not convert");
  testing::expect_one_line_error(run_strata("pattern", "allocate", "--layers", "4", "--attention-ratio", "nan"),
                        "attention ratio");
  testing::expect_one_line_error(run_strata("pattern", "allocate", "--layers", "4", "--attention-ratio", "0.7",
                                   "--mlp-ratio", "0.4"), "<= 1");
  testing::expect_one_line_error(run_strata("pattern", "allocate", "--layers", "4", "--override", ""), "wrong length");
  testing::expect_one_line_error(run_strata("pattern", "allocate", "--layers", "3", "--override", "M*/"), "'/'");
  testing::expect_one_line_error(run_strata("pattern"), "needs a command: parse, allocate, maps, counts");
  testing::expect_one_line_error(run_strata("pattern", "parse"), "PATTERN");
  testing::expect_one_line_error(run_strata("pattern", "frobnicate"), "frobnicate");
  testing::expect_one_line_error(run_strata("no-such-command"), "no-such-command");
}

TEST(PatternCli, HelpExitsZero) {
  const auto r = run_strata("pattern", "allocate", "--help");
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.out.find("--attention-ratio"), std::string::npos);
}

}  // namespace
}  // namespace strata
