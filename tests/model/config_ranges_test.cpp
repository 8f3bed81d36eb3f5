// Float and size fields out of range are refused at load, naming the file and the field: a NaN, negative
// or infinite epsilon, a negative intermediate_size (they used to load and give NaN or zero logits).
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "strata/core/error.h"
#include "strata/io/config_json.h"
#include "strata/model/model_config.h"

namespace strata::model {
namespace {

std::string fixture_config(const std::string& name) {
  std::ifstream in(std::string(STRATA_SOURCE_DIR) + "/tests/fixtures/models/" + name + "/config.json");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The fixture's config text with `key`'s value replaced by `value` (raw JSON text, NaN/Infinity allowed).
std::string with_field(std::string text, const std::string& key, const std::string& value) {
  const size_t at = text.find("\"" + key + "\"");
  EXPECT_NE(at, std::string::npos) << key;
  const size_t colon = text.find(':', at);
  const size_t end = text.find_first_of(",\n}", colon);
  return text.substr(0, colon + 1) + " " + value + text.substr(end);
}

std::string load_error(const std::string& text) {
  try {
    model_config_from_json(io::parse_config_json(text, "config.json"), "config.json");
  } catch (const Error& e) {
    return e.what();
  }
  return "<loaded>";
}

TEST(ConfigRanges, TheFixturesLoad) {
  for (const char* name : {"mamba2_g1", "nemotron_h_hybrid", "granite_dense_hybrid", "falcon_h1_norm", "zamba2", "bamba"})
    EXPECT_EQ(load_error(fixture_config(name)), "<loaded>") << name;
}

TEST(ConfigRanges, BadEpsilonsAreRefused) {
  for (const std::string value : {"NaN", "-1", "Infinity", "0"}) {
    const std::string e = load_error(with_field(fixture_config("nemotron_h_hybrid"), "layer_norm_epsilon", value));
    EXPECT_NE(e.find("config.json: the RMSNorm epsilon (layer_norm_epsilon / rms_norm_eps) is"), std::string::npos)
        << value << ": " << e;
  }
  const std::string m = load_error(with_field(fixture_config("mamba2_g1"), "layer_norm_epsilon", "NaN"));
  EXPECT_NE(m.find("epsilon"), std::string::npos) << m;
}

TEST(ConfigRanges, ANegativeIntermediateSizeIsRefused) {
  const std::string e = load_error(with_field(fixture_config("nemotron_h_hybrid"), "intermediate_size", "-112"));
  EXPECT_NE(e.find("intermediate_size"), std::string::npos) << e;
  EXPECT_NE(e.find("-112"), std::string::npos) << e;
}

TEST(ConfigRanges, HugeSizesAreRefusedAsWritten) {
  // 2^64 - 1 used to be read as -1; 2^40 experts would size tables from it.
  std::string e = load_error(with_field(fixture_config("nemotron_h_hybrid"), "intermediate_size", "18446744073709551615"));
  EXPECT_NE(e.find("config.json: field 'intermediate_size' is 18446744073709551615; expected an integer of magnitude at "
                   "most 2147483647"), std::string::npos) << e;
  e = load_error(with_field(fixture_config("nemotron_h_hybrid"), "n_routed_experts", "1099511627776"));
  EXPECT_NE(e.find("field 'n_routed_experts' is 1099511627776"), std::string::npos) << e;
}

}  // namespace
}  // namespace strata::model
