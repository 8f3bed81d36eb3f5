// JSON nested past kMaxJsonDepth is refused before it is parsed, naming the file, the line and column
// where the limit is crossed and the limit: 100,000 '[' would otherwise overflow the stack of every
// recursive walk (dump, copy, decode_floats) after an iterative parse.
#include <gtest/gtest.h>

#include <functional>
#include <string>

#include "safetensors_test_util.h"
#include "strata/core/error.h"
#include "strata/io/config_json.h"
#include "strata/io/json_depth.h"
#include "strata/io/safetensors.h"

namespace strata::io {
namespace {

using testing::error_of;

std::string nested(size_t depth, char open = '[', char close = ']') {
  return std::string(depth, open) + std::string(depth, close);
}

TEST(JsonDepth, CountsArraysAndObjectsButNotBracketsInStrings) {
  EXPECT_FALSE(find_excess_json_depth(nested(kMaxJsonDepth)));
  const auto at = find_excess_json_depth(nested(kMaxJsonDepth + 1));
  ASSERT_TRUE(at);
  EXPECT_EQ(at->line, 1u);
  EXPECT_EQ(at->column, kMaxJsonDepth + 1);
  // Objects count as levels too; brackets inside strings, escaped quotes included, do not.
  EXPECT_TRUE(find_excess_json_depth("{\"a\":{\"b\":[1]}}", 2));
  EXPECT_FALSE(find_excess_json_depth("{\"a\":\"[[[[\\\"[[[[\"}", 1));
  // Siblings do not add up: depth is how deep, not how many.
  EXPECT_FALSE(find_excess_json_depth("[[],[],[],[]]", 2));
  const auto second_line = find_excess_json_depth("[\n  [[]]]", 2);
  ASSERT_TRUE(second_line);
  EXPECT_EQ(second_line->line, 2u);
  EXPECT_EQ(second_line->column, 4u);
}

TEST(JsonDepth, DeepConfigIsRefusedWithFileAndLimit) {
  const std::string text = "{\"model_type\": \"mamba2\",\n\"x\": " + nested(100000) + "}";
  EXPECT_EQ(error_of([&] { parse_config_json(text, "config.json"); }),
            "config config.json:2:517: JSON nested more than 512 levels deep (arrays and objects); refusing it");
  // Deep objects, and a NaN inside them (decoded by the recursive walk), are bounded alike.
  const std::string objects = "{\"a\":" + std::string(600, '{') + "\"v\": NaN" + std::string(601, '}');
  EXPECT_NE(error_of([&] { parse_config_json(objects, "c.json"); }).find("512 levels"), std::string::npos);
  // Within the limit the config still parses.
  EXPECT_NO_THROW(parse_config_json("{\"x\": " + nested(500) + "}", "config.json"));
}

TEST(JsonDepth, DeepSafetensorsHeaderIsRefused) {
  testing::ScratchDir dir;
  const auto path = dir / "model.safetensors";
  testing::write_bytes(path, testing::raw_safetensors("{\"w\":" + nested(100000) + "}", ""));
  const std::string message = error_of([&] { SafetensorsFile::open(path); });
  EXPECT_EQ(message, path.string() + ": header nests JSON arrays and objects more than 512 levels deep "
                                     "(line 1, column 517 of the header); refusing it");
  testing::write_bytes(path, testing::raw_safetensors("{\"__metadata__\":" + nested(600, '{', '}') + "}", ""));
  EXPECT_NE(error_of([&] { SafetensorsFile::open(path); }).find("512 levels"), std::string::npos);
}

}  // namespace
}  // namespace strata::io
