// The memory planner against hand-computed figures: DeepSeek-V4's 9,848 / 6,880 B per token,
// Nemotron-H-8B's Mamba2 state and KV bytes, floor(T/ratio) growth, budgets and hostile inputs.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "strata/core/error.h"
#include "strata/schedule/hf_schedule.h"
#include "strata/schedule/memory_plan.h"
#include "strata/schedule/presets.h"

namespace strata::schedule {
namespace {

constexpr int64_t kMi = 1 << 20;
constexpr int64_t kOneM = 1048576;  // 1M-token context

const LayerTypeCost& type_named(const MemoryPlan& plan, const std::string& prefix) {
  for (const LayerTypeCost& c : plan.types)
    if (c.type.rfind(prefix, 0) == 0) return c;
  throw Error("no layer type " + prefix);
}

TEST(MemoryPlan, Dsv4ProGrowsBy9848BytesPerToken) {
  const Preset p = make_preset("dsv4-pro");
  const MemoryPlan plan = plan_memory(p.schedule, p.dims, kOneM, 1);
  EXPECT_DOUBLE_EQ(plan.main_bytes_per_token, 9848.0);
  // CSA 256 B + indexer 64 B, HCA 8 B per layer per token.
  const LayerTypeCost& csa = type_named(plan, "csa");
  const LayerTypeCost& hca = type_named(plan, "hca");
  EXPECT_EQ(csa.main_layers, 30);
  EXPECT_EQ(hca.main_layers, 31);
  EXPECT_DOUBLE_EQ(csa.growing_bytes_per_token(), 320.0);
  EXPECT_EQ(csa.compressed_entry_bytes / csa.compress_ratio, 256);
  EXPECT_EQ(csa.indexer_entry_bytes / csa.compress_ratio, 64);
  EXPECT_DOUBLE_EQ(hca.growing_bytes_per_token(), 8.0);
  // 1M is a multiple of 128, so the exact total is the rate times the context: 9.62 GiB.
  EXPECT_EQ(plan.main_growing_bytes, int64_t{9848} * kOneM);
  EXPECT_NEAR(static_cast<double>(plan.main_growing_bytes) / (1024.0 * kMi), 9.62, 0.005);
  EXPECT_EQ(plan.mtp_growing_bytes, 0);  // the MTP layer is sliding-window only
}

TEST(MemoryPlan, Dsv4FlashGrowsBy6880BytesPerToken) {
  const Preset p = make_preset("dsv4-flash");
  const MemoryPlan plan = plan_memory(p.schedule, p.dims, kOneM, 1);
  EXPECT_DOUBLE_EQ(plan.main_bytes_per_token, 6880.0);
  EXPECT_NEAR(static_cast<double>(plan.main_growing_bytes) / (1024.0 * kMi), 6.72, 0.005);
  // Fixed: each layer's 128-token window of 512-wide bf16 entries (128 KiB), plus compressor rings
  // (ratio tokens, 2x for CSA, K=V row + score row of 512 f32) and CSA's indexer ring (128-wide).
  const int64_t window = 128 * 512 * 2;
  const int64_t csa_fixed = window + 8 * 2 * 512 * 4 + 8 * 2 * 128 * 4;
  const int64_t hca_fixed = window + 128 * 2 * 512 * 4;
  EXPECT_EQ(type_named(plan, "csa").fixed_bytes(), csa_fixed);
  EXPECT_EQ(type_named(plan, "hca").fixed_bytes(), hca_fixed);
  EXPECT_EQ(plan.main_fixed_bytes, 2 * window + 21 * csa_fixed + 20 * hca_fixed);
  EXPECT_EQ(plan.mtp_fixed_bytes, window);
  EXPECT_EQ(plan.bytes_per_sequence,
            plan.main_fixed_bytes + plan.mtp_fixed_bytes + plan.main_growing_bytes + plan.mtp_growing_bytes);
}

TEST(MemoryPlan, CompressedEntriesAreCountedPerFullRatio) {
  const Preset p = make_preset("dsv4-pro");
  const LayerTypeCost hca = type_named(plan_memory(p.schedule, p.dims, 0, 1), "hca");
  const LayerTypeCost csa = type_named(plan_memory(p.schedule, p.dims, 0, 1), "csa");
  EXPECT_EQ(hca.growing_bytes(127), 0);
  EXPECT_EQ(hca.growing_bytes(128), 1024);
  EXPECT_EQ(hca.growing_bytes(255), 1024);
  EXPECT_EQ(csa.growing_bytes(7), 1 * (1024 + 256));
  EXPECT_EQ(csa.growing_bytes(8), 2 * (1024 + 256));
}

TEST(MemoryPlan, NemotronH8bMambaStateAndKv) {
  const Preset p = make_preset("nemotron-h-8b");
  const MemoryPlan plan = plan_memory(p.schedule, p.dims, 8192, 16);
  const LayerTypeCost& mamba = type_named(plan, "mamba2");
  EXPECT_EQ(mamba.main_layers, 24);
  EXPECT_EQ(mamba.conv_state_bytes, (8192 + 2 * 8 * 128) * 3 * 4);
  EXPECT_EQ(mamba.ssm_state_bytes, 128 * 64 * 128 * 4);
  const LayerTypeCost& attention = type_named(plan, "attention");
  EXPECT_EQ(attention.main_layers, 4);
  EXPECT_EQ(attention.kv_bytes_per_token, 2 * 8 * 128 * 2);
  EXPECT_EQ(type_named(plan, "mlp").fixed_bytes(), 0);
  EXPECT_DOUBLE_EQ(plan.main_bytes_per_token, 16384.0);
  EXPECT_EQ(plan.main_fixed_bytes, 24 * ((8192 + 2 * 8 * 128) * 3 * 4 + 128 * 64 * 128 * 4));
  EXPECT_EQ(plan.main_growing_bytes, int64_t{16384} * 8192);
  EXPECT_EQ(plan.total_bytes, 16 * plan.bytes_per_sequence);

  ModelDims half = p.dims;
  half.state_dtype = DType::bf16;
  half.cache_dtype = DType::f32;
  const MemoryPlan other = plan_memory(p.schedule, half, 8192, 1);
  EXPECT_EQ(other.main_fixed_bytes * 2, plan.main_fixed_bytes);
  EXPECT_DOUBLE_EQ(other.main_bytes_per_token, 2 * 16384.0);
}

// Falcon-H1's parallel layers hold both a Mamba2 state and a KV cache.
TEST(MemoryPlan, ParallelLayersHoldStateAndKv) {
  const nlohmann::json config = nlohmann::json::parse(R"({"model_type": "falcon_h1", "num_hidden_layers": 3,
      "hidden_size": 64, "vocab_size": 100, "mamba_d_ssm": 96, "mamba_n_heads": 6, "mamba_d_head": "auto",
      "mamba_n_groups": 2, "mamba_d_state": 8, "mamba_d_conv": 4, "num_attention_heads": 4,
      "num_key_value_heads": 2})");
  const HfModel model = falcon_h1_schedule(config, "f.json");
  const MemoryPlan plan = plan_memory(model.schedule, model.dims, 1000, 1);
  ASSERT_EQ(plan.types.size(), 1u);
  const LayerTypeCost& layer = plan.types[0];
  EXPECT_EQ(layer.type, "attention+mamba2");
  EXPECT_EQ(layer.main_layers, 3);
  EXPECT_EQ(layer.conv_state_bytes, (96 + 2 * 2 * 8) * 3 * 4);
  EXPECT_EQ(layer.ssm_state_bytes, 6 * 16 * 8 * 4);
  EXPECT_EQ(layer.kv_bytes_per_token, 2 * 2 * 16 * 2);  // K and V, 2 kv heads of 64/4, bf16
  EXPECT_EQ(plan.main_growing_bytes, 3 * 1000 * layer.kv_bytes_per_token);
}

// Zamba2: a shared block's KV cache is per use (each hybrid layer), its Mamba2 state per layer.
TEST(MemoryPlan, SharedBlocksKeepKvPerUse) {
  const nlohmann::json config = nlohmann::json::parse(R"({"model_type": "zamba2", "num_hidden_layers": 5,
      "layers_block_type": ["mamba", "hybrid", "mamba", "hybrid", "hybrid"], "num_mem_blocks": 2,
      "hidden_size": 64, "vocab_size": 100, "n_mamba_heads": 8, "mamba_d_state": 16, "mamba_ngroups": 1,
      "num_attention_heads": 4, "num_key_value_heads": 4})");
  const HfModel model = zamba2_schedule(config, "z.json");
  const MemoryPlan plan = plan_memory(model.schedule, model.dims, 100, 1);
  const LayerTypeCost& mamba = type_named(plan, "mamba2");
  EXPECT_EQ(mamba.main_layers, 2);
  int64_t kv_layers = 0;
  for (const LayerTypeCost& c : plan.types)
    if (c.type.rfind("shared_attention[", 0) == 0) {
      kv_layers += c.main_layers;
      EXPECT_EQ(c.kv_bytes_per_token, 2 * 4 * 32 * 2);  // head_dim 2·64/4
      EXPECT_EQ(c.ssm_state_bytes, mamba.ssm_state_bytes);
    }
  EXPECT_EQ(kv_layers, 3);
  EXPECT_DOUBLE_EQ(plan.main_bytes_per_token, 3.0 * 2 * 4 * 32 * 2);
}

TEST(MemoryPlan, SharedKvWidthReplacesPerHeadKv) {
  ModelDims dims;
  dims.attention = {.n_heads = 8, .n_kv_heads = 2, .head_dim = 64};
  const Schedule s = schedule_from_pattern("**");
  EXPECT_DOUBLE_EQ(plan_memory(s, dims, 10, 1).main_bytes_per_token, 2 * (2 * 2 * 64 * 2));
  dims.attention.shared_kv_width = 96;
  EXPECT_DOUBLE_EQ(plan_memory(s, dims, 10, 1).main_bytes_per_token, 2 * 96 * 2);
}

TEST(MemoryPlan, SequencesThatFitABudget) {
  const Preset p = make_preset("nemotron-h-8b");
  const int64_t per_sequence = plan_memory(p.schedule, p.dims, 4096, 1).bytes_per_sequence;
  EXPECT_EQ(plan_memory(p.schedule, p.dims, 4096, 1, 3 * per_sequence).sequences_that_fit, 3);
  EXPECT_EQ(plan_memory(p.schedule, p.dims, 4096, 1, 3 * per_sequence - 1).sequences_that_fit, 2);
  EXPECT_EQ(plan_memory(p.schedule, p.dims, 4096, 1, per_sequence - 1).sequences_that_fit, 0);
  EXPECT_FALSE(plan_memory(p.schedule, p.dims, 4096, 1).sequences_that_fit.has_value());
  // A model that holds nothing per sequence fits without bound: reported as no number, not a division by 0.
  const MemoryPlan mlp_only = plan_memory(schedule_from_pattern("--"), {}, 4096, 1, 1 << 30);
  EXPECT_EQ(mlp_only.bytes_per_sequence, 0);
  EXPECT_FALSE(mlp_only.sequences_that_fit.has_value());
}

TEST(MemoryPlan, HostileInputsThrow) {
  const Preset p = make_preset("nemotron-h-8b");
  EXPECT_THROW(plan_memory(p.schedule, p.dims, -1, 1), Error);
  EXPECT_THROW(plan_memory(p.schedule, p.dims, 10, 0), Error);
  EXPECT_THROW(plan_memory(p.schedule, p.dims, 10, 1, 0), Error);
  ModelDims huge = p.dims;
  huge.mamba.n_heads = int64_t{1} << 50;  // past the 2^31 - 1 every dim is bounded by
  huge.mamba.n_groups = 1;
  try {
    plan_memory(p.schedule, huge, 10, 1);
    ADD_FAILURE() << "expected a bound error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("at most 2147483647"), std::string::npos) << e.what();
  }
  huge.mamba.n_heads = huge.mamba.head_dim = 2147483647;  // each within bounds, the state bytes past 2^64
  try {
    plan_memory(p.schedule, huge, 10, 1);
    ADD_FAILURE() << "expected an overflow error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("overflows"), std::string::npos) << e.what();
  }
  EXPECT_THROW(plan_memory(p.schedule, p.dims, int64_t{1} << 62, 1), Error);
  EXPECT_THROW(plan_memory(p.schedule, p.dims, 1 << 20, int64_t{1} << 62), Error);
  EXPECT_THROW(plan_memory(p.schedule, ModelDims{}, 10, 1), Error);  // mamba layers need dims
}

TEST(MemoryPlan, JsonAndTableCarryTheNumbers) {
  const Preset p = make_preset("dsv4-pro");
  const MemoryPlan plan = plan_memory(p.schedule, p.dims, kOneM, 2, int64_t{64} << 30);
  const nlohmann::json j = plan_to_json(plan);
  EXPECT_EQ(j["main"]["bytes_per_token"].get<double>(), 9848.0);
  EXPECT_EQ(j["total_bytes"].get<int64_t>(), plan.total_bytes);
  EXPECT_EQ(j["sequences_that_fit"].get<int64_t>(), (int64_t{64} << 30) / plan.bytes_per_sequence);
  EXPECT_EQ(j["layer_types"].size(), 3u);
  EXPECT_EQ(j["cache_dtype"], "bf16");
  const std::string table = format_plan(plan);
  EXPECT_NE(table.find("9,848 B"), std::string::npos) << table;
  EXPECT_NE(table.find("MTP layers"), std::string::npos) << table;
}

}  // namespace
}  // namespace strata::schedule
