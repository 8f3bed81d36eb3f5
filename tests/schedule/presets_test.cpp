// Presets: the DeepSeek-V4 schedules against a layer-by-layer oracle written from peers.md §5.2.
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "strata/core/error.h"
#include "strata/schedule/presets.h"

namespace strata::schedule {
namespace {

std::map<std::string, int> main_counts(const Schedule& s) {
  std::map<std::string, int> counts;
  for (const LayerSpec& l : s.layers) {
    if (l.mtp_depth != 0) continue;
    const AttentionSpec& a = l.attention;
    if (a.kind == AttentionKind::sliding_window) ++counts["swa"];
    if (a.kind == AttentionKind::compressed) ++counts[a.sparse_top_k > 0 ? "csa" : "hca"];
  }
  return counts;
}

// The oracle: "Flash: L0-L1 SWA-only; even layers 2-42 CSA; odd layers 3-41 HCA. Pro: L0-L1 HCA; even
// layers 2-60 CSA; odd layers 3-59 HCA. MoE in every layer, L0-L2 hash-routed."
void expect_dsv4_layer(const LayerSpec& l, bool pro) {
  SCOPED_TRACE("layer " + std::to_string(l.index));
  const int i = l.index;
  EXPECT_EQ(l.mixer, MixerKind::attention);
  EXPECT_EQ(l.ffn, FfnKind::moe);
  EXPECT_EQ(l.router, i <= 2 ? RouterMode::token_hash : RouterMode::learned_top_k);
  EXPECT_EQ(l.attention.window, 128);
  EXPECT_EQ(l.mtp_depth, 0);
  if (i < 2 && !pro) {
    EXPECT_EQ(l.attention.kind, AttentionKind::sliding_window);
    EXPECT_EQ(l.attention.compress_ratio, 0);
  } else if (i < 2 || i % 2 == 1) {
    EXPECT_EQ(l.attention.kind, AttentionKind::compressed);
    EXPECT_EQ(l.attention.compress_ratio, 128);
    EXPECT_EQ(l.attention.sparse_top_k, 0);
  } else {
    EXPECT_EQ(l.attention.kind, AttentionKind::compressed);
    EXPECT_EQ(l.attention.compress_ratio, 4);
    EXPECT_EQ(l.attention.sparse_top_k, pro ? 1024 : 512);
  }
}

TEST(Presets, Dsv4Flash) {
  const Preset p = make_preset("dsv4-flash");
  const Schedule& s = p.schedule;
  ASSERT_EQ(s.size(), 44);
  EXPECT_EQ(s.main_layer_count(), 43);
  EXPECT_EQ(s.mtp_depths(), 1);
  EXPECT_EQ(main_counts(s), (std::map<std::string, int>{{"swa", 2}, {"csa", 21}, {"hca", 20}}));
  for (int i = 0; i < 43; ++i) expect_dsv4_layer(s.layers[i], false);
  const LayerSpec& mtp = s.layers[43];
  EXPECT_EQ(mtp.mtp_depth, 1);
  EXPECT_EQ(mtp.attention, (AttentionSpec{AttentionKind::sliding_window, 128, 0, 0}));
  EXPECT_EQ(mtp.ffn, FfnKind::moe);
  EXPECT_EQ(layer_label(s.layers[2]), "csa(ratio=4, top-512, window=128) + moe[hash]");
  EXPECT_EQ(layer_label(s.layers[3]), "hca(ratio=128, window=128) + moe");
  EXPECT_EQ(p.dims.attention.shared_kv_width, 512);
  EXPECT_EQ(p.dims.attention.indexer_key_width, 128);
  EXPECT_EQ(p.dims.hidden_size, 4096);
}

TEST(Presets, Dsv4Pro) {
  const Preset p = make_preset("dsv4-pro");
  const Schedule& s = p.schedule;
  ASSERT_EQ(s.size(), 62);
  EXPECT_EQ(s.main_layer_count(), 61);
  EXPECT_EQ(main_counts(s), (std::map<std::string, int>{{"csa", 30}, {"hca", 31}}));
  for (int i = 0; i < 61; ++i) expect_dsv4_layer(s.layers[i], true);
  EXPECT_EQ(s.layers[61].mtp_depth, 1);
  EXPECT_EQ(s.layers[61].attention.kind, AttentionKind::sliding_window);
  EXPECT_EQ(p.dims.hidden_size, 7168);
}

TEST(Presets, Dsv4ScheduleWithoutOrWithMoreMtpLayers) {
  EXPECT_EQ(dsv4_schedule(Dsv4Variant::flash, 0).size(), 43);
  const Schedule s = dsv4_schedule(Dsv4Variant::pro, 2);
  EXPECT_EQ(s.size(), 63);
  EXPECT_EQ(s.mtp_depths(), 2);
}

TEST(Presets, NemotronH8b) {
  const Preset p = make_preset("nemotron-h-8b");
  EXPECT_EQ(p.schedule.size(), 52);
  EXPECT_EQ(p.dims.mamba.conv_channels(), 8192 + 2 * 8 * 128);
  EXPECT_EQ(p.dims.attention.n_kv_heads, 8);
}

TEST(Presets, UnknownNameListsKnownOnes) {
  try {
    make_preset("dsv4-ultra");
    ADD_FAILURE() << "expected strata::Error";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("dsv4-ultra"), std::string::npos) << message;
    EXPECT_NE(message.find("dsv4-flash, dsv4-pro"), std::string::npos) << message;
  }
  for (const std::string& name : preset_names()) EXPECT_EQ(make_preset(name).name, name);
}

}  // namespace
}  // namespace strata::schedule
