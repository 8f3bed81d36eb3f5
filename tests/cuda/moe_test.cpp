// CUDA MoE kernels against their CPU twins on the same inputs. Routing: sigmoid / softmax /
// sqrt_softplus scoring, correction bias, group-limited selection (n_group up to 64, so lanes own two
// groups), norm_topk_prob and routed_scaling_factor, hash mode with strided tables and token ids, exact
// ties and NaN logits, experts fewer than a warp, strided logits, T = 0, 1, 3 and 3000, and the
// Nemotron-H MoE shape (E = 128, top_k = 8, n_group = 8, topk_group = 4): expert ids equal exactly,
// weights within 1e-6 relative. Grouping: expert_start, row_token and slot_row equal exactly (skewed and
// empty experts, T·k across many 256-slot chunks, T = 0). Gather: a copy, bit for bit, aligned (float4)
// and unaligned rows. Mix: within 1e-6 (the same fma chain as the CPU's), accumulate and replace. And the
// whole chain routing → grouping → gather → mix at the Nemotron-H shape.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "cuda_test_support.h"
#include "strata/core/error.h"
#include "strata/kernels/moe.h"

namespace strata {
namespace {

Exec cpu_exec() { return Exec(testing::host_pool()); }

// One tensor on both sides: `storage` on the host (the CPU twin's view into it) and a device copy of the
// whole storage (the CUDA twin's view at the same offset), so windows and strides carry over and every
// element of the storage, inside the view or not, can be compared afterwards.
template <typename T>
struct Pair {
  std::vector<T> storage;
  Buffer buffer;
  Tensor cpu, gpu;

  std::vector<T> gpu_storage() const {
    testing::gpu()->synchronize();
    std::vector<T> back(storage.size());
    cuda::copy(back.data(), buffer.data(), storage.size() * sizeof(T));
    return back;
  }
  void upload() { cuda::copy(buffer.data(), storage.data(), storage.size() * sizeof(T)); }
};

template <typename T>
Pair<T> pair_of(DType dtype, std::vector<T> storage, std::initializer_list<int64_t> shape,
                std::initializer_list<int64_t> strides, int64_t offset = 0) {
  Pair<T> p;
  p.storage = std::move(storage);
  Tensor t;
  t.dtype = dtype;
  t.ndim = static_cast<int>(shape.size());
  std::copy(shape.begin(), shape.end(), t.shape.begin());
  std::copy(strides.begin(), strides.end(), t.strides.begin());
  t.data = p.storage.data() + offset;
  p.cpu = t;
  p.buffer = Buffer(std::max<size_t>(p.storage.size() * sizeof(T), 1), Device::cuda);
  p.upload();
  p.gpu = t;
  p.gpu.data = static_cast<T*>(p.buffer.data()) + offset;
  p.gpu.device = Device::cuda;
  return p;
}

template <typename T>
Pair<T> contiguous_pair(DType dtype, int64_t rows, int64_t cols, T fill) {
  return pair_of<T>(dtype, std::vector<T>(static_cast<size_t>(std::max<int64_t>(rows * cols, 0)), fill),
                    {rows, cols}, {cols, 1});
}

std::vector<float> normal_values(size_t n, std::mt19937& rng, float scale) {
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> v(n);
  for (float& x : v) x = scale == 0.0f ? 0.0f : dist(rng);
  return v;
}

bool weights_match(float got, float want) {
  if (std::isnan(want)) return std::isnan(got);
  return std::fabs(got - want) <= 1e-6f * std::fabs(want) + 1e-30f;
}

// ---------------------------------------------------------------------------------------------- routing

struct RoutingCase {
  int64_t T = 1, E = 8;
  kernels::RoutingParams params;
  bool with_bias = false;
  float logit_scale = 2.0f, bias_scale = 0.3f;
  int64_t vocab = 0;  // hash mode: table rows
};

std::string describe(const RoutingCase& c) {
  const auto& p = c.params;
  return "T=" + std::to_string(c.T) + " E=" + std::to_string(c.E) + " k=" + std::to_string(p.top_k) +
         " n_group=" + std::to_string(p.n_group) + " topk_group=" + std::to_string(p.topk_group) + " " +
         kernels::router_scoring_name(p.scoring) + (p.mode == kernels::RoutingMode::hash ? " hash" : " learned") +
         (c.with_bias ? " bias" : "") + (p.norm_topk_prob ? " norm" : "") +
         " scale=" + std::to_string(p.routed_scaling_factor);
}

// The operands of one routing call on both sides. Logits are columns [2, E + 2) of a [T, E + 5] buffer;
// the hash table is columns [1, k + 1) of a [vocab, k + 2] buffer and the token ids every other entry of
// a [2T] buffer, so every stride the API allows differs from the contiguous one.
struct Routing {
  RoutingCase c;
  Pair<float> logits, bias;
  Pair<int32_t> table, token_ids;
  Pair<int32_t> ids;
  Pair<float> weights;
  Buffer gpu_scratch;
  std::vector<unsigned char> cpu_scratch;

  Routing(const RoutingCase& rc, std::mt19937& rng) : c(rc) {
    const int64_t T = c.T, E = c.E, k = c.params.top_k;
    // At least one row of storage, so even T = 0 views point into it.
    logits = pair_of<float>(DType::f32, normal_values(static_cast<size_t>(std::max<int64_t>(T, 1) * (E + 5)), rng,
                                                      c.logit_scale),
                            {T, E}, {E + 5, 1}, 2);
    if (c.with_bias) bias = pair_of<float>(DType::f32, normal_values(static_cast<size_t>(E), rng, c.bias_scale), {E}, {1});
    if (c.params.mode == kernels::RoutingMode::hash) {
      std::uniform_int_distribution<int32_t> expert(0, static_cast<int32_t>(E - 1));
      std::vector<int32_t> table_storage(static_cast<size_t>(c.vocab * (k + 2)), -5);
      for (int64_t v = 0; v < c.vocab; ++v)
        for (int64_t j = 0; j < k; ++j) table_storage[static_cast<size_t>(v * (k + 2) + 1 + j)] = expert(rng);
      if (c.vocab > 0 && k > 1)  // a row naming one expert twice is legal
        table_storage[static_cast<size_t>(1 + 1)] = table_storage[1];
      table = pair_of<int32_t>(DType::i32, table_storage, {c.vocab, k}, {k + 2, 1}, 1);
      std::uniform_int_distribution<int32_t> token(0, static_cast<int32_t>(c.vocab - 1));
      std::vector<int32_t> id_storage(static_cast<size_t>(std::max<int64_t>(2 * T, 1)), -7);
      for (int64_t t = 0; t < T; ++t) id_storage[static_cast<size_t>(2 * t)] = token(rng);
      token_ids = pair_of<int32_t>(DType::i32, id_storage, {T}, {2});
    }
    ids = contiguous_pair<int32_t>(DType::i32, T, k, -1);
    weights = contiguous_pair<float>(DType::f32, T, k, -777.25f);
    const size_t scratch = kernels::moe_routing_workspace_bytes(T, E);
    gpu_scratch = Buffer(std::max<size_t>(scratch, 1), Device::cuda);
    cpu_scratch.assign(std::max<size_t>(scratch, 1), 0);
  }

  kernels::RoutingTables tables(bool gpu) const {
    kernels::RoutingTables t;
    if (c.with_bias) t.correction_bias = gpu ? &bias.gpu : &bias.cpu;
    if (c.params.mode == kernels::RoutingMode::hash) {
      t.hash_table = gpu ? &table.gpu : &table.cpu;
      t.token_ids = gpu ? &token_ids.gpu : &token_ids.cpu;
    }
    return t;
  }

  void upload_logits() { logits.upload(); }

  void run() {
    kernels::check_moe_routing(logits.gpu, tables(true), c.params, ids.gpu, weights.gpu);
    kernels::check_moe_routing(logits.cpu, tables(false), c.params, ids.cpu, weights.cpu);
    kernels::moe_routing(logits.cpu, tables(false), c.params, ids.cpu, weights.cpu, cpu_scratch.data(), cpu_exec());
    kernels::moe_routing(logits.gpu, tables(true), c.params, ids.gpu, weights.gpu, gpu_scratch.data(),
                         testing::gpu_exec());
    strata::cuda::check_last_error("moe_routing test");
  }

  void expect_matches_cpu() const {
    const std::vector<int32_t> got_ids = ids.gpu_storage();
    const std::vector<float> got_weights = weights.gpu_storage();
    const int64_t k = c.params.top_k;
    for (int64_t t = 0; t < c.T; ++t)
      for (int64_t j = 0; j < k; ++j) {
        const size_t i = static_cast<size_t>(t * k + j);
        ASSERT_EQ(got_ids[i], ids.storage[i]) << "token " << t << " slot " << j;
        ASSERT_TRUE(weights_match(got_weights[i], weights.storage[i]))
            << "token " << t << " slot " << j << ": gpu " << got_weights[i] << " cpu " << weights.storage[i];
      }
  }
};

void route_and_compare(const RoutingCase& c, uint32_t seed) {
  SCOPED_TRACE(describe(c));
  std::mt19937 rng(seed);
  Routing r(c, rng);
  r.run();
  r.expect_matches_cpu();
}

kernels::RoutingParams nemotron_h() {
  kernels::RoutingParams p;
  p.top_k = 8;
  p.n_group = 8;
  p.topk_group = 4;
  p.norm_topk_prob = true;
  p.routed_scaling_factor = 2.5f;
  p.scoring = kernels::RouterScoring::sigmoid;
  return p;
}

TEST(CudaMoeRouting, NemotronHShapeMatchesCpu) {
  STRATA_REQUIRE_GPU();
  uint32_t seed = 1;
  for (int64_t T : {1, 3, 64, 3000})
    for (bool bias : {false, true}) {
      RoutingCase c;
      c.T = T;
      c.E = 128;
      c.params = nemotron_h();
      c.with_bias = bias;
      route_and_compare(c, seed++);
    }
  // Without group limiting (n_group = 1, and topk_group = n_group, which keeps every group).
  for (int64_t n_group : {1, 8}) {
    RoutingCase c;
    c.T = 3000;
    c.E = 128;
    c.params = nemotron_h();
    c.params.n_group = n_group;
    c.params.topk_group = n_group;
    c.with_bias = true;
    route_and_compare(c, seed++);
  }
}

TEST(CudaMoeRouting, ScoringsNormalisationAndScalingMatchCpu) {
  STRATA_REQUIRE_GPU();
  uint32_t seed = 100;
  for (kernels::RouterScoring scoring :
       {kernels::RouterScoring::sigmoid, kernels::RouterScoring::softmax, kernels::RouterScoring::sqrt_softplus})
    for (bool norm : {false, true})
      for (int64_t T : {1, 3, 3000}) {
        RoutingCase c;
        c.T = T;
        c.E = 256;
        c.params.top_k = 6;
        c.params.n_group = 8;
        c.params.topk_group = 3;
        c.params.scoring = scoring;
        c.params.norm_topk_prob = norm;
        c.params.routed_scaling_factor = norm ? 1.0f : 16.0f;
        c.with_bias = T != 3;
        c.logit_scale = scoring == kernels::RouterScoring::sqrt_softplus ? 12.0f : 2.0f;  // both sides of 20
        route_and_compare(c, seed++);
      }
}

TEST(CudaMoeRouting, OddShapesMatchCpu) {
  STRATA_REQUIRE_GPU();
  uint32_t seed = 200;
  struct Shape {
    int64_t E, k, n_group, topk_group;
  };
  const Shape shapes[] = {
      {1, 1, 1, 1},       // one expert
      {8, 2, 1, 1},       // fewer experts than lanes
      {37, 5, 1, 1},      // odd, not a multiple of 32
      {60, 5, 4, 2},      // groups of 15
      {96, 7, 48, 5},     // 48 groups of 2: lanes own two groups
      {128, 64, 64, 40},  // the largest top_k and n_group
      {384, 8, 1, 1},     // 12 experts per lane
      {160, 10, 16, 16},  // topk_group = n_group: no limiting
  };
  for (const Shape& s : shapes)
    for (kernels::RouterScoring scoring : {kernels::RouterScoring::sigmoid, kernels::RouterScoring::softmax})
      for (int64_t T : {1, 3, 333}) {
        RoutingCase c;
        c.T = T;
        c.E = s.E;
        c.params.top_k = s.k;
        c.params.n_group = s.n_group;
        c.params.topk_group = s.topk_group;
        c.params.scoring = scoring;
        c.params.norm_topk_prob = true;
        c.params.routed_scaling_factor = 2.0f;
        c.with_bias = true;
        route_and_compare(c, seed++);
      }
}

TEST(CudaMoeRouting, NegativeBiasesStayInsideTheKeptGroups) {
  STRATA_REQUIRE_GPU();
  // Biases far below zero make every choice negative: an excluded group's expert must still lose.
  RoutingCase c;
  c.T = 200;
  c.E = 64;
  c.params = nemotron_h();
  c.params.top_k = 6;
  c.params.topk_group = 2;
  c.with_bias = true;
  std::mt19937 rng(300);
  Routing r(c, rng);
  for (float& b : r.bias.storage) b -= 10.0f;
  r.bias.upload();
  r.run();
  r.expect_matches_cpu();
}

TEST(CudaMoeRouting, TiesGoToTheLowerIndexAndNanRanksFirst) {
  STRATA_REQUIRE_GPU();
  {
    // All logits equal: the groups tie and the experts tie.
    RoutingCase c;
    c.T = 3;
    c.E = 8;
    c.params.top_k = 3;
    c.params.n_group = 4;
    c.params.topk_group = 2;
    std::mt19937 rng(1);
    Routing r(c, rng);
    std::fill(r.logits.storage.begin(), r.logits.storage.end(), 0.5f);
    r.upload_logits();
    r.run();
    r.expect_matches_cpu();
    const std::vector<int32_t> ids = r.ids.gpu_storage();
    EXPECT_EQ(std::vector<int32_t>(ids.begin(), ids.begin() + 3), (std::vector<int32_t>{0, 1, 2}));
  }
  const float nan = std::numeric_limits<float>::quiet_NaN();
  for (kernels::RouterScoring scoring :
       {kernels::RouterScoring::sigmoid, kernels::RouterScoring::sqrt_softplus, kernels::RouterScoring::softmax}) {
    SCOPED_TRACE(kernels::router_scoring_name(scoring));
    RoutingCase c;
    c.T = 4;
    c.E = 5;
    c.params.top_k = 2;
    c.params.scoring = scoring;
    std::mt19937 rng(2);
    Routing r(c, rng);
    const float rows[4][5] = {{1.0f, 3.0f, 2.0f, 3.0f, 3.0f},
                              {1.0f, 3.0f, nan, 3.0f, 0.0f},
                              {-0.0f, 0.0f, -0.0f, -1.0f, -2.0f},
                              {nan, nan, 1.0f, nan, 2.0f}};
    for (int t = 0; t < 4; ++t)
      for (int e = 0; e < 5; ++e) r.logits.storage[static_cast<size_t>(t * (c.E + 5) + 2 + e)] = rows[t][e];
    r.upload_logits();
    r.run();
    r.expect_matches_cpu();
    if (scoring != kernels::RouterScoring::softmax) {  // softmax spreads one NaN over the whole row
      const std::vector<int32_t> ids = r.ids.gpu_storage();
      EXPECT_EQ(ids[0], 1);
      EXPECT_EQ(ids[1], 3);
      EXPECT_EQ(ids[2], 2);  // torch.topk puts NaN on top
      EXPECT_EQ(ids[3], 1);
      EXPECT_EQ(ids[6], 0);  // NaNs tie among themselves: lower index first
      EXPECT_EQ(ids[7], 1);
    }
  }
  {
    // Tied groups with group limiting at the Nemotron-H shape: every group scores the same.
    RoutingCase c;
    c.T = 2;
    c.E = 128;
    c.params = nemotron_h();
    std::mt19937 rng(3);
    Routing r(c, rng);
    for (int64_t t = 0; t < c.T; ++t)
      for (int64_t e = 0; e < c.E; ++e)
        r.logits.storage[static_cast<size_t>(t * (c.E + 5) + 2 + e)] = static_cast<float>(e % 16 == 3 || e % 16 == 9);
    r.upload_logits();
    r.run();
    r.expect_matches_cpu();
  }
}

TEST(CudaMoeRouting, HashModeMatchesCpu) {
  STRATA_REQUIRE_GPU();
  uint32_t seed = 400;
  for (kernels::RouterScoring scoring :
       {kernels::RouterScoring::sqrt_softplus, kernels::RouterScoring::sigmoid, kernels::RouterScoring::softmax})
    for (int64_t T : {1, 3, 3000})
      for (bool norm : {false, true}) {
        RoutingCase c;
        c.T = T;
        c.E = 64;
        c.vocab = 50;
        c.params.top_k = 6;
        c.params.mode = kernels::RoutingMode::hash;
        c.params.scoring = scoring;
        c.params.norm_topk_prob = norm;
        c.params.routed_scaling_factor = 1.5f;
        route_and_compare(c, seed++);
      }
}

TEST(CudaMoeRouting, HashIdsTheCheckCannotSeeGiveNanWeights) {
  STRATA_REQUIRE_GPU();
  RoutingCase c;
  c.T = 3;
  c.E = 16;
  c.vocab = 4;
  c.params.top_k = 2;
  c.params.mode = kernels::RoutingMode::hash;
  std::mt19937 rng(5);
  Routing r(c, rng);
  r.token_ids.storage[0] = 1;
  r.token_ids.storage[2] = 4;  // outside the table
  r.token_ids.storage[4] = 2;
  r.token_ids.upload();
  r.table.storage[static_cast<size_t>(1 * 4 + 1 + 0)] = 3;
  r.table.storage[static_cast<size_t>(1 * 4 + 1 + 1)] = 16;  // not an expert
  r.table.storage[static_cast<size_t>(2 * 4 + 1 + 0)] = 5;
  r.table.storage[static_cast<size_t>(2 * 4 + 1 + 1)] = 6;
  r.table.upload();
  kernels::check_moe_routing(r.logits.gpu, r.tables(true), c.params, r.ids.gpu, r.weights.gpu);
  kernels::moe_routing(r.logits.gpu, r.tables(true), c.params, r.ids.gpu, r.weights.gpu, r.gpu_scratch.data(),
                       testing::gpu_exec());
  const std::vector<int32_t> ids = r.ids.gpu_storage();
  const std::vector<float> weights = r.weights.gpu_storage();
  EXPECT_EQ(ids, (std::vector<int32_t>{3, 0, 0, 0, 5, 6}));
  EXPECT_FALSE(std::isnan(weights[0]));
  EXPECT_TRUE(std::isnan(weights[1]));
  EXPECT_TRUE(std::isnan(weights[2]));
  EXPECT_TRUE(std::isnan(weights[3]));
  EXPECT_FALSE(std::isnan(weights[4]));
  EXPECT_FALSE(std::isnan(weights[5]));
}

TEST(CudaMoeRouting, ZeroTokensWriteNothing) {
  STRATA_REQUIRE_GPU();
  RoutingCase c;
  c.T = 0;
  c.E = 128;
  c.params = nemotron_h();
  c.with_bias = true;
  std::mt19937 rng(6);
  Routing r(c, rng);
  r.run();
  r.expect_matches_cpu();
}

TEST(CudaMoeRouting, ChecksReadOnlyShapesOfDeviceOperands) {
  STRATA_REQUIRE_GPU();
  RoutingCase c;
  c.T = 2;
  c.E = 8;
  c.vocab = 3;
  c.params.top_k = 2;
  c.params.mode = kernels::RoutingMode::hash;
  std::mt19937 rng(7);
  Routing r(c, rng);
  // A token id outside the table: the host check finds it in host memory; on the device it is not read
  // (reading device memory from the host would crash, not throw).
  r.token_ids.storage[2] = 99;
  r.token_ids.upload();
  EXPECT_NO_THROW(kernels::check_moe_routing(r.logits.gpu, r.tables(true), c.params, r.ids.gpu, r.weights.gpu));
  try {
    kernels::check_moe_routing(r.logits.cpu, r.tables(false), c.params, r.ids.cpu, r.weights.cpu);
    ADD_FAILURE() << "a host token id outside the table was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("token id 99"), std::string::npos) << e.what();
  }
  try {
    kernels::check_moe_routing(r.logits.gpu, r.tables(true), c.params, r.ids.cpu, r.weights.gpu);
    ADD_FAILURE() << "host expert_ids with device logits were accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("expert_ids"), std::string::npos) << e.what();
  }
  // The dispatch refuses a host operand in a CUDA call.
  EXPECT_THROW(kernels::moe_routing(r.logits.gpu, r.tables(false), c.params, r.ids.gpu, r.weights.gpu,
                                    r.gpu_scratch.data(), testing::gpu_exec()),
               Error);
}

// --------------------------------------------------------------------------------------------- grouping

struct Grouping {
  int64_t T, k, E;
  Pair<int32_t> ids;
  Pair<int64_t> start, row_token, slot_row;

  Grouping(std::vector<int32_t> slot_experts, int64_t tokens, int64_t top_k, int64_t n_experts)
      : T(tokens), k(top_k), E(n_experts) {
    ids = pair_of<int32_t>(DType::i32, std::move(slot_experts), {T, k}, {k, 1});
    start = pair_of<int64_t>(DType::i64, std::vector<int64_t>(static_cast<size_t>(E + 1), -3), {E + 1}, {1});
    row_token = pair_of<int64_t>(DType::i64, std::vector<int64_t>(static_cast<size_t>(T * k), -3), {T * k}, {1});
    slot_row = pair_of<int64_t>(DType::i64, std::vector<int64_t>(static_cast<size_t>(T * k), -3), {T * k}, {1});
  }
  kernels::MoeGrouping view(bool gpu) const {
    return {.expert_start = gpu ? start.gpu : start.cpu,
            .row_token = gpu ? row_token.gpu : row_token.cpu,
            .slot_row = gpu ? slot_row.gpu : slot_row.cpu};
  }
  void run() {
    kernels::moe_group_by_expert(ids.cpu, E, view(false), cpu_exec());
    kernels::moe_group_by_expert(ids.gpu, E, view(true), testing::gpu_exec());
    strata::cuda::check_last_error("moe_group_by_expert test");
  }
  void expect_matches_cpu() const {
    EXPECT_EQ(start.gpu_storage(), start.storage) << "expert_start";
    EXPECT_EQ(row_token.gpu_storage(), row_token.storage) << "row_token";
    EXPECT_EQ(slot_row.gpu_storage(), slot_row.storage) << "slot_row";
  }
};

// Ids for T tokens × k slots: distinct experts per token (as learned routing gives), drawn with weights
// `skew` (1: uniform; larger: expert 0 and its neighbours dominate, the last experts starve).
std::vector<int32_t> routed_ids(int64_t T, int64_t k, int64_t E, double skew, std::mt19937& rng) {
  std::vector<double> weight(static_cast<size_t>(E));
  for (int64_t e = 0; e < E; ++e) weight[static_cast<size_t>(e)] = std::pow(1.0 / skew, static_cast<double>(e) / 4.0);
  std::vector<int32_t> ids;
  for (int64_t t = 0; t < T; ++t) {
    std::vector<double> w = weight;
    for (int64_t j = 0; j < k; ++j) {
      std::discrete_distribution<int32_t> pick(w.begin(), w.end());
      const int32_t e = pick(rng);
      ids.push_back(e);
      if (k <= E) w[static_cast<size_t>(e)] = 0.0;  // without replacement
    }
  }
  return ids;
}

TEST(CudaMoeGroupByExpert, MatchesCpuExactly) {
  STRATA_REQUIRE_GPU();
  uint32_t seed = 500;
  struct Shape {
    int64_t T, k, E;
    double skew;
  };
  const Shape shapes[] = {
      {1, 1, 1, 1.0},    {1, 8, 128, 1.0},  {3, 8, 128, 1.0},   {3, 6, 64, 4.0},   {100, 2, 5, 1.0},
      {33, 8, 128, 8.0}, {3000, 8, 128, 1.0}, {3000, 8, 128, 8.0}, {3000, 1, 300, 2.0}, {777, 6, 256, 1.0},
  };
  for (const Shape& s : shapes) {
    SCOPED_TRACE("T=" + std::to_string(s.T) + " k=" + std::to_string(s.k) + " E=" + std::to_string(s.E) +
                 " skew=" + std::to_string(s.skew));
    std::mt19937 rng(seed++);
    Grouping g(routed_ids(s.T, s.k, s.E, s.skew, rng), s.T, s.k, s.E);
    g.run();
    g.expect_matches_cpu();
  }
}

TEST(CudaMoeGroupByExpert, RepeatedExpertsInOneTokenKeepSlotOrder) {
  STRATA_REQUIRE_GPU();
  // Hash tables may name one expert twice for a token; all slots on one expert is the extreme.
  std::vector<int32_t> ids = {2, 2, 0, 2, 1, 1, 2, 0, 2};
  Grouping g(ids, 3, 3, 4);
  g.run();
  g.expect_matches_cpu();
  Grouping all(std::vector<int32_t>(6000, 3), 1000, 6, 5);
  all.run();
  all.expect_matches_cpu();
}

TEST(CudaMoeGroupByExpert, ZeroTokensGiveZeroStarts) {
  STRATA_REQUIRE_GPU();
  Grouping g({}, 0, 8, 128);
  g.run();
  g.expect_matches_cpu();
  EXPECT_EQ(g.start.gpu_storage(), std::vector<int64_t>(129, 0));
}

// ------------------------------------------------------------------------------------------ gather, mix

// A grouping computed on the CPU and uploaded as is, so gather and mix are tested on their own.
Grouping uploaded_grouping(int64_t T, int64_t k, int64_t E, std::mt19937& rng) {
  Grouping g(routed_ids(T, k, E, 2.0, rng), T, k, E);
  kernels::moe_group_by_expert(g.ids.cpu, E, g.view(false), cpu_exec());
  g.start.upload();
  g.row_token.upload();
  g.slot_row.upload();
  return g;
}

// x is columns [x_col, x_col + W) of a [T, W + x_pad] buffer.
void gather_and_compare(int64_t T, int64_t k, int64_t W, int64_t x_col, int64_t x_pad, uint32_t seed) {
  SCOPED_TRACE("T=" + std::to_string(T) + " k=" + std::to_string(k) + " W=" + std::to_string(W) +
               " x_col=" + std::to_string(x_col) + " pad=" + std::to_string(x_pad));
  std::mt19937 rng(seed);
  const Grouping g = uploaded_grouping(T, k, 16, rng);
  const Pair<float> x = pair_of<float>(DType::f32, normal_values(static_cast<size_t>(T * (W + x_pad)), rng, 1.0f),
                                       {T, W}, {W + x_pad, 1}, x_col);
  Pair<float> gathered = contiguous_pair<float>(DType::f32, T * k, W, -777.25f);
  kernels::moe_gather_rows(x.cpu, g.view(false), gathered.cpu, cpu_exec());
  kernels::moe_gather_rows(x.gpu, g.view(true), gathered.gpu, testing::gpu_exec());
  strata::cuda::check_last_error("moe_gather_rows test");
  EXPECT_EQ(gathered.gpu_storage(), gathered.storage);
}

TEST(CudaMoeGatherRows, CopiesRowsBitForBit) {
  STRATA_REQUIRE_GPU();
  uint32_t seed = 600;
  for (int64_t W : {1, 3, 64, 1000, 1028, 2688, 4099}) {
    gather_and_compare(5, 8, W, 0, 0, seed++);   // contiguous: float4 when W % 4 == 0
    gather_and_compare(5, 8, W, 1, 7, seed++);   // unaligned window
    gather_and_compare(7, 3, W, 4, 12, seed++);  // aligned window with a wider row
  }
  gather_and_compare(3000, 8, 64, 0, 0, seed++);
  gather_and_compare(1, 8, 4096, 0, 0, seed++);
  gather_and_compare(0, 8, 64, 0, 0, seed++);
}

// out is columns [out_col, out_col + W) of a [T, W + out_pad] buffer filled with random values, so
// accumulate adds to real data and the padding must stay untouched.
void mix_and_compare(int64_t T, int64_t k, int64_t W, int64_t out_col, int64_t out_pad, bool accumulate,
                     uint32_t seed) {
  SCOPED_TRACE("T=" + std::to_string(T) + " k=" + std::to_string(k) + " W=" + std::to_string(W) + " out_col=" +
               std::to_string(out_col) + (accumulate ? " accumulate" : " replace"));
  std::mt19937 rng(seed);
  const Grouping g = uploaded_grouping(T, k, 32, rng);
  const Pair<float> expert_out =
      pair_of<float>(DType::f32, normal_values(static_cast<size_t>(T * k * W), rng, 1.0f), {T * k, W}, {W, 1});
  const Pair<float> weights =
      pair_of<float>(DType::f32, normal_values(static_cast<size_t>(T * k), rng, 0.5f), {T, k}, {k, 1});
  Pair<float> out = pair_of<float>(DType::f32, normal_values(static_cast<size_t>(T * (W + out_pad)), rng, 1.0f),
                                   {T, W}, {W + out_pad, 1}, out_col);
  kernels::moe_mix(expert_out.cpu, g.view(false), weights.cpu, out.cpu, accumulate, cpu_exec());
  kernels::moe_mix(expert_out.gpu, g.view(true), weights.gpu, out.gpu, accumulate, testing::gpu_exec());
  strata::cuda::check_last_error("moe_mix test");
  const std::vector<float> got = out.gpu_storage();
  EXPECT_LE(testing::relative_max_error(got.data(), out.storage.data(), got.size()), 1e-6);
  for (int64_t t = 0; t < T; ++t)  // the padding is not written
    for (int64_t c = 0; c < W + out_pad; ++c)
      if (c < out_col || c >= out_col + W) {
        const size_t i = static_cast<size_t>(t * (W + out_pad) + c);
        ASSERT_EQ(got[i], out.storage[i]) << "padding of row " << t << " column " << c;
      }
}

TEST(CudaMoeMix, MatchesCpuAccumulatingAndReplacing) {
  STRATA_REQUIRE_GPU();
  uint32_t seed = 700;
  for (bool accumulate : {false, true})
    for (int64_t W : {1, 3, 64, 1000, 1028, 2688, 4099}) {
      mix_and_compare(5, 8, W, 0, 0, accumulate, seed++);
      mix_and_compare(5, 8, W, 1, 6, accumulate, seed++);
      mix_and_compare(6, 3, W, 8, 8, accumulate, seed++);
    }
  mix_and_compare(3000, 8, 64, 0, 0, true, seed++);
  mix_and_compare(1, 8, 4096, 0, 0, false, seed++);
  mix_and_compare(2, 64, 128, 0, 0, true, seed++);  // the largest top_k
  mix_and_compare(0, 8, 64, 0, 0, true, seed++);
}

// ------------------------------------------------------------------------------------------ whole chain

TEST(CudaMoe, RoutingGroupingGatherAndMixChainAtTheNemotronHShape) {
  STRATA_REQUIRE_GPU();
  for (int64_t T : {1, 3, 3000}) {
    SCOPED_TRACE("T=" + std::to_string(T));
    RoutingCase c;
    c.T = T;
    c.E = 128;
    c.params = nemotron_h();
    c.with_bias = true;
    std::mt19937 rng(static_cast<uint32_t>(800 + T));
    Routing r(c, rng);
    r.run();
    r.expect_matches_cpu();

    // Each side groups its own ids.
    const int64_t k = c.params.top_k, W = 96;
    Grouping g(std::vector<int32_t>(static_cast<size_t>(T * k), 0), T, k, c.E);
    g.ids.cpu = r.ids.cpu;
    g.ids.gpu = r.ids.gpu;
    g.run();
    g.expect_matches_cpu();

    const Pair<float> x = pair_of<float>(DType::f32, normal_values(static_cast<size_t>(T * W), rng, 1.0f), {T, W}, {W, 1});
    Pair<float> gathered = contiguous_pair<float>(DType::f32, T * k, W, 0.0f);
    kernels::moe_gather_rows(x.cpu, g.view(false), gathered.cpu, cpu_exec());
    kernels::moe_gather_rows(x.gpu, g.view(true), gathered.gpu, testing::gpu_exec());
    EXPECT_EQ(gathered.gpu_storage(), gathered.storage);

    // A stand-in "expert": gathered rows scaled by their expert's index + 1 (the same on both sides).
    Pair<float> expert_out = contiguous_pair<float>(DType::f32, T * k, W, 0.0f);
    for (int64_t e = 0; e < c.E; ++e)
      for (int64_t row = g.start.storage[static_cast<size_t>(e)]; row < g.start.storage[static_cast<size_t>(e + 1)]; ++row)
        for (int64_t col = 0; col < W; ++col)
          expert_out.storage[static_cast<size_t>(row * W + col)] =
              gathered.storage[static_cast<size_t>(row * W + col)] * static_cast<float>(e + 1);
    expert_out.upload();
    Pair<float> out = contiguous_pair<float>(DType::f32, T, W, 0.25f);
    kernels::moe_mix(expert_out.cpu, g.view(false), r.weights.cpu, out.cpu, true, cpu_exec());
    kernels::moe_mix(expert_out.gpu, g.view(true), r.weights.gpu, out.gpu, true, testing::gpu_exec());
    const std::vector<float> got = out.gpu_storage();
    EXPECT_LE(testing::relative_max_error(got.data(), out.storage.data(), got.size()), 1e-6);
  }
}

}  // namespace
}  // namespace strata
