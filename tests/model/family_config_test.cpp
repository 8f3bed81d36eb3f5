// Bad configs of the Granite-4.0-H and Bamba families: each missing or contradictory field gets one error
// that names the field (and the file), before any weight is read.
#include <functional>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "strata/core/error.h"
#include "strata/io/config_json.h"
#include "strata/model/model_config.h"

namespace strata::model {
namespace {

using nlohmann::json;

json fixture_config(const std::string& name) {
  return io::read_config_json(std::string(STRATA_SOURCE_DIR) + "/tests/fixtures/models/" + name + "/config.json");
}

void expect_error(const std::string& fixture, const std::function<void(json&)>& edit,
                  std::initializer_list<std::string> parts) {
  json config = fixture_config(fixture);
  edit(config);
  try {
    model_config_from_json(config, fixture + ".json");
    ADD_FAILURE() << "expected an error for " << config.dump().substr(0, 200);
  } catch (const Error& e) {
    const std::string message = e.what();
    for (const std::string& part : parts) EXPECT_NE(message.find(part), std::string::npos) << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  }
}

TEST(FamilyConfig, FixturesMapToTheirFamilies) {
  EXPECT_EQ(model_config_from_json(fixture_config("bamba"), "b.json").model_type, "bamba");
  const ModelConfig granite = model_config_from_json(fixture_config("granite_moe_hybrid"), "g.json");
  EXPECT_EQ(granite.moe.n_routed_experts, 6);
  EXPECT_FLOAT_EQ(granite.residual_multiplier, 0.6f);
  EXPECT_EQ(granite.schedule.layers[1].mixer, schedule::MixerKind::attention);
  EXPECT_EQ(granite.schedule.layers[1].ffn, schedule::FfnKind::moe);
  const ModelConfig dense = model_config_from_json(fixture_config("granite_dense_hybrid"), "d.json");
  EXPECT_EQ(dense.schedule.layers[0].ffn, schedule::FfnKind::mlp);
  EXPECT_FLOAT_EQ(dense.rope.theta, 5000.0f);
}

TEST(FamilyConfig, BambaBadFieldsAreNamed) {
  expect_error("bamba", [](json& c) { c["attn_layer_indices"] = {1, 9}; }, {"bamba.json", "attn_layer_indices[1]", "[0, 4)"});
  expect_error("bamba", [](json& c) { c["attn_layer_indices"] = "1,3"; }, {"attn_layer_indices"});
  expect_error("bamba", [](json& c) { c.erase("mamba_n_heads"); }, {"'mamba_n_heads'"});
  expect_error("bamba", [](json& c) { c["rope_parameters"]["rope_type"] = "yarn"; }, {"rope_type", "yarn"});
  expect_error("bamba", [](json& c) { c["rope_parameters"]["partial_rotary_factor"] = 0.1; },
               {"partial_rotary_factor"});
  expect_error("bamba", [](json& c) { c["hidden_act"] = "tanh"; }, {"hidden_act", "tanh"});
  expect_error("bamba", [](json& c) { c.erase("intermediate_size"); }, {"intermediate_size"});
  expect_error("bamba", [](json& c) { c["mamba_d_head"] = "auto"; c["mamba_expand"] = 3; c["mamba_n_heads"] = 7; },
               {"mamba_n_heads"});
}

TEST(FamilyConfig, GraniteBadFieldsAreNamed) {
  expect_error("granite_moe_hybrid", [](json& c) { c["layer_types"][2] = "conv"; }, {"layer_types[2]", "\"conv\""});
  expect_error("granite_moe_hybrid", [](json& c) { c["num_hidden_layers"] = 6; }, {"num_hidden_layers", "6"});
  expect_error("granite_moe_hybrid", [](json& c) { c["num_experts_per_tok"] = 7; }, {"num_experts_per_tok", "7"});
  expect_error("granite_moe_hybrid", [](json& c) { c.erase("shared_intermediate_size"); },
               {"shared_intermediate_size"});
  expect_error("granite_moe_hybrid", [](json& c) { c["position_embedding_type"] = "alibi"; },
               {"position_embedding_type", "alibi"});
  expect_error("granite_moe_hybrid", [](json& c) { c["residual_multiplier"] = -1.0; }, {"residual_multiplier"});
  expect_error("granite_moe_hybrid", [](json& c) { c["hidden_act"] = "gelu"; }, {"hidden_act"});
  expect_error("granite_dense_hybrid", [](json& c) { c["num_attention_heads"] = 5; }, {"num_attention_heads"});
}

}  // namespace
}  // namespace strata::model
