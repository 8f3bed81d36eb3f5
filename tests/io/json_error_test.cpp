// JSON errors are one sentence with the file, line and column: "config.json:3:21: not valid JSON: ...".
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "strata/core/error.h"
#include "strata/io/config_json.h"
#include "safetensors_test_util.h"

namespace strata::io {
namespace {

using testing::error_of;

TEST(JsonError, NamesFileLineAndColumn) {
  const std::string text = "{\n  \"model_type\": \"mamba2\",\n  \"hidden_size\": 12,,\n}\n";
  EXPECT_EQ(error_of([&] { parse_config_json(text, "config.json"); }),
            "config config.json:3:21: not valid JSON: syntax error while parsing object key - unexpected ','; "
            "expected string literal");
}

TEST(JsonError, AnEmptyFileIsAtLineOne) {
  EXPECT_EQ(error_of([] { parse_config_json("", "empty.json"); }).rfind("config empty.json:1:1: not valid JSON: ", 0), 0u);
}

TEST(JsonError, DirectoriesAndDevicesAreNotConfigs) {
  EXPECT_EQ(error_of([] { read_config_json(std::filesystem::temp_directory_path()); }),
            "config '" + std::filesystem::temp_directory_path().string() + "' is a directory; give the config.json inside it");
  EXPECT_EQ(error_of([] { read_config_json("/dev/zero"); }), "config '/dev/zero' is not a regular file");
}

}  // namespace
}  // namespace strata::io
