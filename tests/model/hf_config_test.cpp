// Hugging Face config.json -> Schedule + ModelDims through the family registry, and the Infinity/NaN-tolerant
// JSON parser.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <functional>
#include <string>

#include <fmt/format.h>

#include "strata/core/error.h"
#include "strata/io/config_json.h"
#include "strata/model/hf_config.h"
#include "strata/schedule/presets.h"

namespace strata::schedule {
namespace {

using nlohmann::json;
using model::load_hf_config;
using model::schedule_from_hf_config;

void expect_error(const std::function<void()>& fn, std::initializer_list<std::string> parts) {
  try {
    fn();
  } catch (const Error& e) {
    const std::string message = e.what();
    for (const std::string& part : parts) EXPECT_NE(message.find(part), std::string::npos) << message;
    return;
  }
  ADD_FAILURE() << "expected strata::Error";
}

std::string example(const std::string& name) { return std::string(STRATA_SOURCE_DIR) + "/examples/" + name; }

TEST(ParseConfigJson, BareNonFiniteNumbers) {
  const json j = io::parse_config_json(
      R"({"time_step_limit": [0.0, Infinity], "low": -Infinity, "x":NaN, "nested": {"a": [Infinity,1]}})", "c.json");
  EXPECT_EQ(j["time_step_limit"][0].get<double>(), 0.0);
  EXPECT_TRUE(std::isinf(j["time_step_limit"][1].get<double>()));
  EXPECT_GT(j["time_step_limit"][1].get<double>(), 0);
  EXPECT_TRUE(std::isinf(j["low"].get<double>()));
  EXPECT_LT(j["low"].get<double>(), 0);
  EXPECT_TRUE(std::isnan(j["x"].get<double>()));
  EXPECT_TRUE(std::isinf(j["nested"]["a"][0].get<double>()));
  EXPECT_EQ(j["nested"]["a"][1].get<int>(), 1);
}

TEST(ParseConfigJson, StringsAreLeftAlone) {
  const json j = io::parse_config_json(R"({"a": "Infinity", "b": "x NaN \" Infinity", "NaN": 1, "c\\": "-Infinity"})",
                                   "c.json");
  EXPECT_EQ(j["a"], "Infinity");
  EXPECT_EQ(j["b"], "x NaN \" Infinity");
  EXPECT_EQ(j["NaN"], 1);
  EXPECT_EQ(j["c\\"], "-Infinity");
}

TEST(ParseConfigJson, TransformersFloatObjects) {
  const json j = io::parse_config_json(
      R"({"limit": [0.0, {"__float__": "Infinity"}], "n": {"__float__": "NaN"}, "m": {"__float__": "-Infinity"}})",
      "c.json");
  EXPECT_TRUE(std::isinf(j["limit"][1].get<double>()));
  EXPECT_TRUE(std::isnan(j["n"].get<double>()));
  EXPECT_LT(j["m"].get<double>(), 0);
  expect_error([] { io::parse_config_json(R"({"n": {"__float__": "lots"}})", "c.json"); }, {"c.json", "__float__"});
}

TEST(ParseConfigJson, MalformedInputNamesTheFile) {
  expect_error([] { io::parse_config_json(R"({"a": Infinityx})", "bad.json"); }, {"bad.json", "not valid JSON"});
  expect_error([] { io::parse_config_json(R"({"a": 1)", "bad.json"); }, {"bad.json"});
  expect_error([] { io::parse_config_json("", "empty.json"); }, {"empty.json"});
  expect_error([] { io::parse_config_json("[1, 2]", "list.json"); }, {"list.json", "JSON object"});
  expect_error([] { io::parse_config_json("\"Infinity", "s.json"); }, {"s.json"});
}

TEST(HfSchedule, NemotronH8bExampleMatchesPreset) {
  const HfModel m = load_hf_config(example("nemotron_h_8b_config.json"));
  const Preset p = make_preset("nemotron-h-8b");
  EXPECT_EQ(m.model_type, "nemotron_h");
  EXPECT_EQ(m.schedule, p.schedule);
  EXPECT_EQ(m.dims, p.dims);  // head_dim read from attention_head_dim
}

json tiny_nemotron() {
  return json::parse(R"({
    "model_type": "nemotron_h", "hidden_size": 64, "vocab_size": 100,
    "hybrid_override_pattern": "M*-E",
    "mamba_num_heads": 4, "mamba_head_dim": 16, "ssm_state_size": 8, "n_groups": 2, "conv_kernel": 4,
    "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 16})");
}

TEST(HfSchedule, NemotronHLayersBlockTypeAndMtp) {
  json c = tiny_nemotron();
  c.erase("hybrid_override_pattern");
  c["layers_block_type"] = {"linear_attention", "full_attention", "mlp", "moe", "mamba", "attention"};
  c["mtp_hybrid_override_pattern"] = "*E";
  c["num_nextn_predict_layers"] = 2;
  const HfModel m = schedule_from_hf_config(c, "tiny.json");
  EXPECT_EQ(schedule_to_pattern(m.schedule), "M*-EM*/*E/*E");
  EXPECT_EQ(m.schedule.mtp_depths(), 2);
  EXPECT_EQ(m.dims.mamba.chunk_size, 128);  // nemotron_h default when absent

  const HfModel example_mtp = load_hf_config(example("nemotron_h_tiny_mtp_config.json"));
  EXPECT_EQ(schedule_to_pattern(example_mtp.schedule), "ME*EM-/*E/*E");
  EXPECT_TRUE(std::isinf(io::parse_config_json("{\"t\": [0.0, Infinity]}", "t.json")["t"][1].get<double>()));
}

TEST(HfSchedule, NemotronHErrorsNameFieldAndFile) {
  {
    json c = tiny_nemotron();
    c.erase("mamba_num_heads");
    expect_error([&] { schedule_from_hf_config(c, "tiny.json"); }, {"tiny.json", "'mamba_num_heads'"});
  }
  {
    json c = tiny_nemotron();
    c.erase("head_dim");
    expect_error([&] { schedule_from_hf_config(c, "tiny.json"); }, {"'head_dim' or 'attention_head_dim'"});
  }
  {
    json c = tiny_nemotron();
    c.erase("hybrid_override_pattern");
    expect_error([&] { schedule_from_hf_config(c, "tiny.json"); }, {"hybrid_override_pattern", "layers_block_type"});
  }
  {
    json c = tiny_nemotron();
    c["num_hidden_layers"] = 5;
    expect_error([&] { schedule_from_hf_config(c, "tiny.json"); }, {"num_hidden_layers", "5", "4 layers"});
  }
  {
    json c = tiny_nemotron();
    c["hybrid_override_pattern"] = "M*X";
    expect_error([&] { schedule_from_hf_config(c, "tiny.json"); }, {"tiny.json", "'X'"});
  }
  {
    json c = tiny_nemotron();
    c.erase("hybrid_override_pattern");
    c["layers_block_type"] = {"mamba", "conv"};
    expect_error([&] { schedule_from_hf_config(c, "tiny.json"); }, {"layers_block_type[1]", "\"conv\""});
  }
  {
    json c = tiny_nemotron();
    c["ssm_state_size"] = "big";
    expect_error([&] { schedule_from_hf_config(c, "tiny.json"); }, {"'ssm_state_size'", "expected an integer"});
  }
  {
    json c = tiny_nemotron();
    c["num_nextn_predict_layers"] = 1;
    expect_error([&] { schedule_from_hf_config(c, "tiny.json"); }, {"num_nextn_predict_layers", "MTP layer layout"});
  }
  {
    json c = tiny_nemotron();
    c["n_groups"] = 3;
    expect_error([&] { schedule_from_hf_config(c, "tiny.json"); }, {"tiny.json", "divisible"});
  }
  {
    json c = tiny_nemotron();
    c["model_type"] = "llama";
    expect_error([&] { schedule_from_hf_config(c, "tiny.json"); }, {"\"llama\"", "not supported"});
  }
  expect_error([] { load_hf_config("/nonexistent/config.json"); }, {"/nonexistent/config.json"});
}

TEST(HfSchedule, Mamba2HfFormat) {
  const HfModel m = load_hf_config(example("mamba_codestral_7b_config.json"));
  EXPECT_EQ(m.model_type, "mamba2");
  EXPECT_EQ(m.schedule.size(), 64);
  EXPECT_EQ(schedule_to_pattern(m.schedule), std::string(64, 'M'));
  EXPECT_EQ(m.dims.mamba, (MambaDims{128, 64, 128, 8, 4, 256}));
  EXPECT_EQ(m.dims.vocab_size, 32768);
  json c = json::parse(R"({"model_type": "mamba2", "hidden_size": 8, "num_hidden_layers": 2, "vocab_size": 9,
                            "num_heads": 2, "head_dim": 8, "state_size": 4, "conv_kernel": 4})");
  expect_error([&] { schedule_from_hf_config(c, "m.json"); }, {"m.json", "'n_groups'"});
}

TEST(HfSchedule, MambaSsmFormat) {
  const HfModel m = load_hf_config(example("mamba2_130m_config.json"));
  EXPECT_EQ(m.schedule.size(), 24);
  EXPECT_EQ(m.dims.hidden_size, 768);
  EXPECT_EQ(m.dims.vocab_size, 50288);  // 50277 padded to a multiple of 16
  EXPECT_EQ(m.dims.mamba, (MambaDims{24, 64, 128, 1, 4, 256}));  // mamba_ssm's Mamba2 defaults, expand 2

  json c = json::parse(R"({"d_model": 64, "n_layer": 3, "vocab_size": 10, "d_intermediate": 128,
      "ssm_cfg": {"layer": "Mamba2", "d_state": 16, "headdim": 32, "ngroups": 2},
      "attn_layer_idx": [1], "attn_cfg": {"num_heads": 4, "num_heads_kv": 2}})");
  const HfModel hybrid = schedule_from_hf_config(c, "h.json");
  EXPECT_EQ(hybrid.schedule.layers[0].mixer, MixerKind::mamba2);
  EXPECT_EQ(hybrid.schedule.layers[1].mixer, MixerKind::attention);
  EXPECT_EQ(hybrid.schedule.layers[1].ffn, FfnKind::mlp);
  EXPECT_EQ(hybrid.dims.attention, (AttentionDims{4, 2, 16, 0, 0}));
  EXPECT_EQ(hybrid.dims.mamba.n_heads, 4);  // 2 * 64 / 32

  c["ssm_cfg"]["layer"] = "Mamba1";
  expect_error([&] { schedule_from_hf_config(c, "h.json"); }, {"Mamba1"});
  c["ssm_cfg"]["layer"] = "Mamba2";
  c["attn_layer_idx"] = {3};
  expect_error([&] { schedule_from_hf_config(c, "h.json"); }, {"attn_layer_idx", "[0, 3)"});
  c.erase("n_layer");
  expect_error([&] { schedule_from_hf_config(c, "h.json"); }, {"h.json", "'n_layer'"});
}

// Sizes past 2^31 - 1 are refused naming the field and its value as written (2^64 - 1 used to read as -1),
// and what the mappings derive from them (a padded vocabulary, expand · d_model) never overflows.
TEST(HfSchedule, HugeSizesAreRefusedNamingTheFieldAndValue) {
  const json ssm = json::parse(R"({"d_model": 64, "n_layer": 2, "vocab_size": 100, "pad_vocab_size_multiple": 16,
                                   "ssm_cfg": {"headdim": 32}})");
  const std::string limit = "expected an integer of magnitude at most 2147483647";
  {
    json c = ssm;
    c["vocab_size"] = INT64_MAX;  // vocab + multiple - 1 used to wrap negative
    expect_error([&] { schedule_from_hf_config(c, "s.json"); },
                 {"s.json", "field 'vocab_size' is 9223372036854775807", limit});
  }
  {
    json c = ssm;
    c["d_model"] = int64_t{1} << 62;  // expand · d_model used to wrap
    expect_error([&] { schedule_from_hf_config(c, "s.json"); }, {"field 'd_model' is 4611686018427387904", limit});
    c["d_model"] = 64;
    c["ssm_cfg"]["expand"] = int64_t{1} << 62;
    expect_error([&] { schedule_from_hf_config(c, "s.json"); }, {"field 'ssm_cfg.expand' is 4611686018427387904"});
    c["ssm_cfg"]["expand"] = -(int64_t{1} << 62);
    expect_error([&] { schedule_from_hf_config(c, "s.json"); }, {"field 'ssm_cfg.expand' is -4611686018427387904"});
    c["ssm_cfg"]["expand"] = 1e300;
    expect_error([&] { schedule_from_hf_config(c, "s.json"); }, {"field 'ssm_cfg.expand' is 1e+300", limit});
  }
  {
    json c = ssm;
    c["vocab_size"] = 2147483647;  // fits, but padded to a multiple of 16 it does not
    expect_error([&] { schedule_from_hf_config(c, "s.json"); },
                 {"vocab_size 2147483647 padded to a multiple of pad_vocab_size_multiple 16 is 2147483648"});
  }
  {
    json c = ssm;
    c["d_model"] = 1 << 30;  // each field fits; the derived head count does not
    c["ssm_cfg"] = {{"headdim", 1}, {"expand", 4}};
    expect_error([&] { schedule_from_hf_config(c, "s.json"); }, {"s.json", "mamba heads is 4294967296"});
  }
  for (const char* field : {"hidden_size", "vocab_size", "mamba_num_heads"}) {
    json c = tiny_nemotron();
    c[field] = UINT64_MAX;
    expect_error([&] { schedule_from_hf_config(c, "tiny.json"); },
                 {"tiny.json", fmt::format("field '{}' is 18446744073709551615", field), limit});
  }
}

}  // namespace
}  // namespace strata::schedule
