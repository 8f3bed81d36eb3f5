// The Granite-4.0-H, Bamba, Falcon-H1 and Zamba2 config mappings: the fixtures map to the right layers
// and options, and each missing or contradictory field gets one error that names the field (and the
// file), before any weight is read.
#include <functional>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "strata/core/error.h"
#include "strata/io/config_json.h"
#include "strata/model/model_config.h"
#include "strata/schedule/layer_spec.h"

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

TEST(FamilyConfig, FalconH1MapsEveryMultiplier) {
  const ModelConfig c = model_config_from_json(fixture_config("falcon_h1_norm"), "f.json");
  ASSERT_EQ(c.schedule.layers.size(), 3u);
  for (const auto& layer : c.schedule.layers) {
    EXPECT_EQ(layer.mixer, schedule::MixerKind::attention_and_mamba2);
    EXPECT_EQ(layer.ffn, schedule::FfnKind::mlp);
    EXPECT_EQ(schedule::layer_label(layer), "attention+mamba2 + mlp");
  }
  EXPECT_EQ(c.dims.mamba.n_heads * c.dims.mamba.head_dim, 96);  // mamba_d_ssm, not expand · hidden (128)
  EXPECT_EQ(c.dims.mamba.n_groups, 2);
  EXPECT_TRUE(c.mamba_gated_norm);
  EXPECT_FALSE(c.mamba_norm_before_gate);
  EXPECT_FLOAT_EQ(c.embedding_multiplier, 1.5f);
  EXPECT_FLOAT_EQ(c.logits_multiplier, 0.625f);
  EXPECT_FLOAT_EQ(c.mup.key, 0.875f);
  EXPECT_FLOAT_EQ(c.mup.attention_input, 1.5f);
  EXPECT_FLOAT_EQ(c.mup.attention_output, 0.625f);
  EXPECT_FLOAT_EQ(c.mup.mamba_input, 1.25f);
  EXPECT_FLOAT_EQ(c.mup.mamba_output, 0.75f);
  EXPECT_FLOAT_EQ(c.mup.mamba_projection[4], 0.875f);
  EXPECT_FLOAT_EQ(c.mup.mlp_gate, 0.75f);
  EXPECT_FLOAT_EQ(c.mup.mlp_output, 1.25f);
  const ModelConfig gate = model_config_from_json(fixture_config("falcon_h1_gate"), "g.json");
  EXPECT_FALSE(gate.mamba_gated_norm);
  EXPECT_EQ(gate.dims.mamba.head_dim, 24);  // auto: expand 2 · hidden 48 over 4 heads
}

TEST(FamilyConfig, FalconH1BadFieldsAreNamed) {
  expect_error("falcon_h1_norm", [](json& c) { c["ssm_multipliers"] = {1.0, 2.0}; }, {"f", "ssm_multipliers", "5"});
  expect_error("falcon_h1_norm", [](json& c) { c["mlp_multipliers"] = "big"; }, {"mlp_multipliers"});
  expect_error("falcon_h1_norm", [](json& c) { c["mamba_d_head"] = 15; }, {"mamba_d_head", "mamba_d_ssm 96"});
  expect_error("falcon_h1_norm", [](json& c) { c["mamba_d_ssm"] = 100; c["mamba_d_head"] = "auto"; },
               {"mamba_d_ssm 100", "mamba_n_heads"});
  expect_error("falcon_h1_norm", [](json& c) { c["key_multiplier"] = 0.0; }, {"key_multiplier"});
  expect_error("falcon_h1_norm", [](json& c) { c["hidden_act"] = "gelu"; }, {"hidden_act"});
  expect_error("falcon_h1_norm", [](json& c) { c.erase("num_attention_heads"); }, {"num_attention_heads"});
  expect_error("falcon_h1_norm", [](json& c) { c["mamba_rms_norm"] = "yes"; }, {"mamba_rms_norm"});
}

json zamba2_config() {
  // The shape of a Zamba2 config.json as transformers 5.17 writes it (linear_attention = Mamba2 layer).
  return json::parse(R"({
    "model_type": "zamba2", "vocab_size": 101, "hidden_size": 64, "intermediate_size": 96,
    "num_hidden_layers": 6,
    "layers_block_type": ["linear_attention", "hybrid", "linear_attention", "hybrid", "hybrid", "mamba"],
    "num_mem_blocks": 2, "use_shared_attention_adapter": true, "adapter_rank": 8, "use_mem_rope": true,
    "rope_parameters": {"rope_type": "default", "rope_theta": 5000.0},
    "num_attention_heads": 4, "num_key_value_heads": 2, "hidden_act": "gelu", "mamba_d_state": 16,
    "mamba_d_conv": 4, "mamba_expand": 2, "mamba_ngroups": 2, "n_mamba_heads": 8, "chunk_size": 8,
    "time_step_min": 0.001, "rms_norm_eps": 1e-5, "tie_word_embeddings": true})");
}

void expect_zamba2_error(const std::function<void(json&)>& edit, std::initializer_list<std::string> parts) {
  json config = zamba2_config();
  edit(config);
  try {
    model_config_from_json(config, "z.json");
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    for (const std::string& part : parts) EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
  }
}

TEST(FamilyConfig, Zamba2MapsSharedBlocks) {
  const ModelConfig c = model_config_from_json(zamba2_config(), "z.json");
  const std::vector<int> blocks{-1, 0, -1, 1, 0, -1};
  ASSERT_EQ(c.schedule.layers.size(), blocks.size());
  for (size_t i = 0; i < blocks.size(); ++i) {
    EXPECT_EQ(c.schedule.layers[i].shared_block, blocks[i]) << i;
    EXPECT_EQ(c.schedule.layers[i].mixer, blocks[i] < 0 ? schedule::MixerKind::mamba2
                                                        : schedule::MixerKind::attention_and_mamba2);
    EXPECT_EQ(c.schedule.layers[i].ffn, schedule::FfnKind::none);
  }
  EXPECT_EQ(schedule::layer_label(c.schedule.layers[3]), "shared_attention[1]+mamba2");
  EXPECT_EQ(c.dims.attention.head_dim, 32);  // 2 · hidden / heads
  EXPECT_EQ(c.dims.mamba.head_dim, 16);
  EXPECT_EQ(c.shared_blocks.count, 2);
  EXPECT_TRUE(c.shared_blocks.attention_adapters);
  EXPECT_EQ(c.shared_blocks.activation, MlpActivation::gelu_gated);
  EXPECT_FLOAT_EQ(c.attention_multiplier, 0.25f);  // (32 / 2)^-1/2
  EXPECT_FLOAT_EQ(c.rope.theta, 5000.0f);
  EXPECT_FLOAT_EQ(c.dt_min, 0.001f);
}

TEST(FamilyConfig, Zamba2BadFieldsAreNamed) {
  expect_zamba2_error([](json& c) { c["num_mem_blocks"] = 0; }, {"z.json", "num_mem_blocks", "hybrid"});
  expect_zamba2_error([](json& c) { c["layers_block_type"][2] = "attention"; }, {"layers_block_type[2]"});
  expect_zamba2_error([](json& c) { c["num_hidden_layers"] = 5; }, {"num_hidden_layers", "layers_block_type"});
  expect_zamba2_error([](json& c) { c.erase("layers_block_type"); }, {"layers_block_type"});
  expect_zamba2_error([](json& c) { c["num_attention_heads"] = 5; }, {"num_attention_heads"});
  expect_zamba2_error([](json& c) { c["add_bias_linear"] = true; }, {"add_bias_linear"});
  expect_zamba2_error([](json& c) { c["hidden_act"] = "relu"; }, {"hidden_act"});
  expect_zamba2_error([](json& c) { c["mamba_headdim"] = 8; }, {"mamba_headdim"});
}

}  // namespace
}  // namespace strata::model
