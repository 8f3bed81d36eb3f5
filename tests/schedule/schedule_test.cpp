// Schedule: building from Megatron patterns, round trips, and validation errors that name the layer.
#include <gtest/gtest.h>

#include <functional>
#include <string>

#include "strata/core/error.h"
#include "strata/schedule/schedule.h"

namespace strata::schedule {
namespace {

// Expects `fn` to throw strata::Error whose message contains every one of `parts`.
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

TEST(Schedule, FromPatternWithMtpDepths) {
  const Schedule s = schedule_from_pattern("MM*-/M*/M*");
  ASSERT_EQ(s.size(), 8);
  EXPECT_EQ(s.main_layer_count(), 4);
  EXPECT_EQ(s.mtp_depths(), 2);
  const MixerKind mixers[] = {MixerKind::mamba2, MixerKind::mamba2, MixerKind::attention, MixerKind::none,
                              MixerKind::mamba2, MixerKind::attention, MixerKind::mamba2, MixerKind::attention};
  const int depths[] = {0, 0, 0, 0, 1, 1, 2, 2};
  for (int i = 0; i < 8; ++i) {
    EXPECT_EQ(s.layers[i].index, i);
    EXPECT_EQ(s.layers[i].mixer, mixers[i]) << i;
    EXPECT_EQ(s.layers[i].mtp_depth, depths[i]) << i;
  }
  EXPECT_EQ(s.layers[3].ffn, FfnKind::mlp);
  EXPECT_EQ(s.layers[2].attention.kind, AttentionKind::full);
  EXPECT_EQ(schedule_to_pattern(s), "MM*-/M*/M*");
}

TEST(Schedule, MoeSymbolIsLearnedRouting) {
  const Schedule s = schedule_from_pattern("ME");
  EXPECT_EQ(s.layers[1].mixer, MixerKind::none);
  EXPECT_EQ(s.layers[1].ffn, FfnKind::moe);
  EXPECT_EQ(s.layers[1].router, RouterMode::learned_top_k);
  EXPECT_EQ(layer_label(s.layers[1]), "moe");
}

TEST(Schedule, NemotronH8bCounts) {
  const Schedule s = schedule_from_pattern("M-M-M-M*-M-M-M-M-M*-M-M-M-M-M*-M-M-M-M-M*-M-M-M-M-M-");
  int mamba = 0, attention = 0, mlp = 0;
  for (const LayerSpec& l : s.layers) {
    mamba += l.mixer == MixerKind::mamba2;
    attention += l.mixer == MixerKind::attention;
    mlp += l.ffn == FfnKind::mlp;
  }
  EXPECT_EQ(s.size(), 52);
  EXPECT_EQ(mamba, 24);
  EXPECT_EQ(attention, 4);
  EXPECT_EQ(mlp, 24);
}

TEST(Schedule, BadPatternsThrow) {
  expect_error([] { schedule_from_pattern("MX"); }, {"'X'", "main"});
  expect_error([] { schedule_from_pattern(""); }, {"no main layers"});
  expect_error([] { schedule_from_pattern("/MM"); }, {"no main layers"});
  expect_error([] { schedule_from_pattern("M/M/*"); }, {"identical"});
}

TEST(Schedule, ToPatternRejectsLayersWithoutASymbol) {
  Schedule s = schedule_from_pattern("M*");
  s.layers[1].ffn = FfnKind::moe;
  s.layers[1].router = RouterMode::learned_top_k;
  expect_error([&] { schedule_to_pattern(s); }, {"layer 1", "attention + moe"});
}

TEST(Schedule, ValidationNamesTheLayer) {
  const Schedule good = schedule_from_pattern("M*-E");
  {
    Schedule s = good;
    s.layers[2].index = 7;
    expect_error([&] { validate_schedule(s); }, {"layer 2", "index is 7"});
  }
  {
    Schedule s = good;
    s.layers[2].ffn = FfnKind::none;
    expect_error([&] { validate_schedule(s); }, {"layer 2", "neither a mixer nor an FFN"});
  }
  {
    Schedule s = good;
    s.layers[1].attention = {AttentionKind::sliding_window, 0, 0, 0};
    expect_error([&] { validate_schedule(s); }, {"layer 1", "window > 0"});
  }
  {
    Schedule s = good;
    s.layers[1].attention = {AttentionKind::compressed, 128, 1, 0};
    expect_error([&] { validate_schedule(s); }, {"layer 1", "ratio >= 2"});
  }
  {
    Schedule s = good;
    s.layers[1].attention = {AttentionKind::full, 0, 0, 512};
    expect_error([&] { validate_schedule(s); }, {"layer 1", "full attention"});
  }
  {
    Schedule s = good;
    s.layers[0].attention.window = 64;
    expect_error([&] { validate_schedule(s); }, {"layer 0", "mamba2"});
  }
  {
    Schedule s = good;
    s.layers[3].router = RouterMode::none;
    expect_error([&] { validate_schedule(s); }, {"layer 3", "no router"});
  }
  {
    Schedule s = good;
    s.layers[2].router = RouterMode::token_hash;
    expect_error([&] { validate_schedule(s); }, {"layer 2", "router"});
  }
  expect_error([] { validate_schedule(Schedule{}); }, {"no layers"});
}

TEST(Schedule, ValidationOfMtpDepths) {
  {
    Schedule s = schedule_from_pattern("MM/M*/M*");
    s.layers[4].mtp_depth = 3;
    s.layers[5].mtp_depth = 3;
    expect_error([&] { validate_schedule(s); }, {"layer 4", "ascend"});
  }
  {
    Schedule s = schedule_from_pattern("MM/M*/M*");
    s.layers[5] = mlp_layer(5, 2);
    expect_error([&] { validate_schedule(s); }, {"layer 5", "expected attention"});
  }
  {
    Schedule s = schedule_from_pattern("MM/M*/M*");
    s.layers.pop_back();
    expect_error([&] { validate_schedule(s); }, {"layer 4", "ended after 1 layers; expected 2"});
  }
  {
    Schedule s = schedule_from_pattern("MM/M*");
    s.layers[0].mtp_depth = 1;
    expect_error([&] { validate_schedule(s); }, {"layer 0"});
  }
}

TEST(Schedule, DimsValidationNamesLayerAndFlag) {
  const Schedule s = schedule_from_pattern("-M*");
  ModelDims dims;
  expect_error([&] { validate_dims(s, dims); }, {"layer 1 is mamba2", "--mamba-heads"});
  dims.mamba = {.n_heads = 8, .head_dim = 4, .state_size = 16, .n_groups = 3, .conv_kernel = 4, .chunk_size = 8};
  expect_error([&] { validate_dims(s, dims); }, {"layer 1", "divisible by groups"});
  dims.mamba.n_groups = 2;
  expect_error([&] { validate_dims(s, dims); }, {"layer 2 is attention", "--kv-heads"});
  dims.attention = {.n_heads = 4, .n_kv_heads = 2, .head_dim = 16};
  EXPECT_NO_THROW(validate_dims(s, dims));
  dims.hidden_size = -1;
  expect_error([&] { validate_dims(s, dims); }, {"hidden size is -1"});
}

}  // namespace
}  // namespace strata::schedule
