// Megatron-Core parity: every vector in tests/fixtures/schedule/megatron_vectors.json was produced by running
// Megatron's own mamba_hybrid_layer_allocation.py (commit 9d71cb1cd2) with tools/megatron_vectors.py.
#include <fstream>
#include <limits>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "strata/core/error.h"
#include "strata/schedule/allocation.h"
#include "strata/schedule/pattern.h"

namespace strata::schedule {
namespace {

const nlohmann::json& vectors() {
  static const nlohmann::json data = [] {
    std::ifstream in(std::string(STRATA_SOURCE_DIR) + "/tests/fixtures/schedule/megatron_vectors.json");
    EXPECT_TRUE(in.good());
    return nlohmann::json::parse(in);
  }();
  return data;
}

// Runs fn and returns "ok:<result>" or "error:<message>", so expectations compare one string.
template <typename Fn>
std::string outcome(Fn fn) {
  try {
    return "ok:" + fn();
  } catch (const Error& e) {
    return std::string("error:") + e.what();
  }
}

std::optional<std::string> opt(const nlohmann::json& j) {
  if (j.is_null()) return std::nullopt;
  return j.get<std::string>();
}

TEST(MegatronVectors, AutoAllocationMatchesEveryTriple) {
  int checked = 0, float_sensitive = 0;
  for (const auto& v : vectors()["allocations"]) {
    const std::string got = allocate_layers(v["layers"], v["attention"], v["mlp"]);
    ASSERT_EQ(got, v["result"].get<std::string>())
        << "layers=" << v["layers"] << " attention=" << v["attention"] << " mlp=" << v["mlp"];
    ++checked;
    float_sensitive += v["float_differs_from_exact"].get<bool>();
  }
  EXPECT_GT(checked, 10000);
  // The vectors must include many cases where double accumulation differs from exact arithmetic;
  // otherwise this test could not tell a Python-exact port from a rational one.
  EXPECT_GT(float_sensitive, 1000);
}

TEST(MegatronVectors, OverridesAndAssertions) {
  for (const auto& v : vectors()["overrides"]) {
    const double attention =
        v["attention"].is_string() ? std::numeric_limits<double>::quiet_NaN() : v["attention"].get<double>();
    const std::optional<std::string> override_pattern = opt(v["override"]);
    const std::string got = outcome([&] {
      return allocate_layers(v["layers"], attention, v["mlp"],
                             override_pattern ? std::optional<std::string_view>(*override_pattern) : std::nullopt);
    });
    if (v.contains("ok")) {
      EXPECT_EQ(got, "ok:" + v["ok"].get<std::string>()) << v.dump();
    } else if (v["error"] == "assert") {
      EXPECT_TRUE(got.starts_with("error:allocate_layers: ")) << v.dump() << " got " << got;
    } else {
      EXPECT_EQ(got, "error:" + v["error"].get<std::string>()) << v.dump();
    }
  }
}

TEST(MegatronVectors, Parse) {
  for (const auto& v : vectors()["parses"]) {
    const std::string pattern = v["pattern"];
    if (v.contains("ok")) {
      const ParsedPattern got = parse_pattern(pattern);
      EXPECT_EQ(got.main, opt(v["ok"]["main"])) << pattern;
      EXPECT_EQ(got.mtp, opt(v["ok"]["mtp"])) << pattern;
      EXPECT_EQ(got.mtp_depths, v["ok"]["mtp_depths"].get<int>()) << pattern;
    } else {
      const std::string got = outcome([&] { parse_pattern(pattern); return std::string(); });
      EXPECT_EQ(got, "error:" + v["error"].get<std::string>()) << pattern;
    }
  }
}

TEST(MegatronVectors, LayerMaps) {
  for (const auto& v : vectors()["maps"]) {
    const std::string pattern = v["pattern"];
    if (!v.contains("ok")) {
      EXPECT_THROW(layer_maps(pattern), Error) << pattern;
      continue;
    }
    const LayerMaps maps = layer_maps(pattern);
    const std::map<int, int>* ordered[] = {&maps.attention, &maps.mamba, &maps.mlp, &maps.moe};
    for (size_t k = 0; k < 4; ++k) {
      std::map<int, int> expected;
      for (const auto& [global, local] : v["ok"][k].items()) expected[std::stoi(global)] = local.get<int>();
      EXPECT_EQ(*ordered[k], expected) << pattern << " map " << k;
    }
  }
}

}  // namespace
}  // namespace strata::schedule
