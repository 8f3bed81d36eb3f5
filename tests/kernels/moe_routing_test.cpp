#include "strata/kernels/cpu/moe_routing.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>
#include <vector>

#include "strata/core/error.h"

namespace strata::kernels {
namespace {

// A literal transcription of transformers' NemotronHMoE.route_tokens_to_experts (and DeepSeek-V4's hash
// Gate): full sorts instead of incremental selection, -inf masking of dropped groups. torch.topk's tie
// order is unspecified; the reference pins it to "lower index first" with stable sorts.
struct Routed {
  std::vector<int32_t> ids;
  std::vector<float> weights;
};

float reference_score(float logit, RouterScoring scoring) {
  switch (scoring) {
    case RouterScoring::sigmoid:
      return 1.0f / (1.0f + std::exp(-logit));
    case RouterScoring::sqrt_softplus:
      return std::sqrt(logit > 20.0f ? logit : std::log1p(std::exp(logit)));
    case RouterScoring::softmax:
      break;
  }
  return 0.0f;  // softmax is handled row-wise
}

bool torch_greater(float a, float b) { return (std::isnan(a) && !std::isnan(b)) || a > b; }

std::vector<int32_t> stable_topk(const std::vector<float>& values, int64_t k) {
  std::vector<int32_t> order(values.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](int32_t a, int32_t b) { return torch_greater(values[a], values[b]); });
  order.resize(static_cast<size_t>(k));
  return order;
}

Routed reference_route(const std::vector<float>& logits, const std::vector<float>* bias,
                       const RoutingParams& p, const std::vector<int32_t>* table_row) {
  const int64_t n = static_cast<int64_t>(logits.size());
  std::vector<float> scores(logits.size());
  if (p.scoring == RouterScoring::softmax) {
    const float max = *std::max_element(logits.begin(), logits.end());
    float sum = 0.0f;
    for (int64_t e = 0; e < n; ++e) sum += scores[e] = std::exp(logits[e] - max);
    for (auto& s : scores) s /= sum;
  } else {
    for (int64_t e = 0; e < n; ++e) scores[e] = reference_score(logits[e], p.scoring);
  }
  Routed r;
  if (p.mode == RoutingMode::hash) {
    r.ids = *table_row;
  } else {
    std::vector<float> choice = scores;
    if (bias)
      for (int64_t e = 0; e < n; ++e) choice[e] += (*bias)[e];
    const int64_t group_size = n / p.n_group;
    std::vector<float> group_scores(static_cast<size_t>(p.n_group));
    for (int64_t g = 0; g < p.n_group; ++g) {
      std::vector<float> members(choice.begin() + g * group_size, choice.begin() + (g + 1) * group_size);
      const auto top2 = stable_topk(members, std::min<int64_t>(2, group_size));
      group_scores[g] = members[top2[0]] + (top2.size() > 1 ? members[top2[1]] : 0.0f);
    }
    std::vector<bool> keep(static_cast<size_t>(p.n_group), false);
    for (int32_t g : stable_topk(group_scores, p.topk_group)) keep[g] = true;
    for (int64_t e = 0; e < n; ++e)
      if (!keep[e / group_size]) choice[e] = -std::numeric_limits<float>::infinity();
    r.ids = stable_topk(choice, p.top_k);
  }
  float sum = 0.0f;
  for (int32_t id : r.ids) {
    r.weights.push_back(scores[id]);
    sum += scores[id];
  }
  for (auto& w : r.weights) {
    if (p.norm_topk_prob) w /= (sum + 1e-20f);
    w *= p.routed_scaling_factor;
  }
  return r;
}

struct Problem {
  int64_t tokens, experts;
  RoutingParams params;
  std::vector<float> logits, bias;
  std::vector<int32_t> table, token_ids;
  std::vector<int32_t> ids;
  std::vector<float> weights;
  std::vector<unsigned char> scratch;
  Tensor logits_t, bias_t, table_t, token_ids_t, ids_t, weights_t;

  Problem(int64_t t, int64_t e, const RoutingParams& p) : tokens(t), experts(e), params(p) {
    logits.assign(static_cast<size_t>(t * e), 0.0f);
    ids.assign(static_cast<size_t>(t * p.top_k), -1);
    weights.assign(static_cast<size_t>(t * p.top_k), std::numeric_limits<float>::quiet_NaN());
  }
  void randomize(uint32_t seed, float logit_scale = 2.0f, float bias_scale = 0.0f) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> dist(0.0f, 1.0f);
    for (auto& v : logits) v = logit_scale * dist(rng);
    if (bias_scale != 0.0f) {
      bias.resize(static_cast<size_t>(experts));
      for (auto& v : bias) v = bias_scale * dist(rng);
    }
  }
  RoutingTables tables() {
    logits_t = Tensor::contiguous(logits.data(), DType::f32, {tokens, experts});
    ids_t = Tensor::contiguous(ids.data(), DType::i32, {tokens, params.top_k});
    weights_t = Tensor::contiguous(weights.data(), DType::f32, {tokens, params.top_k});
    RoutingTables tables;
    if (!bias.empty()) {
      bias_t = Tensor::contiguous(bias.data(), DType::f32, {static_cast<int64_t>(bias.size())});
      tables.correction_bias = &bias_t;
    }
    if (!table.empty()) {
      table_t = Tensor::contiguous(table.data(), DType::i32,
                                   {static_cast<int64_t>(table.size()) / params.top_k, params.top_k});
      tables.hash_table = &table_t;
    }
    if (!token_ids.empty() || params.mode == RoutingMode::hash) {
      token_ids_t =
          Tensor::contiguous(token_ids.data(), DType::i32, {static_cast<int64_t>(token_ids.size())});
      tables.token_ids = &token_ids_t;
    }
    return tables;
  }
  void run(ThreadPool& pool) {
    const RoutingTables t = tables();
    check_moe_routing(logits_t, t, params, ids_t, weights_t);
    scratch.assign(moe_routing_workspace_bytes(tokens, experts), 0);
    moe_routing(logits_t, t, params, ids_t, weights_t, scratch.data(), pool);
  }
  void expect_matches_reference() {
    for (int64_t t = 0; t < tokens; ++t) {
      std::vector<float> row(logits.begin() + t * experts, logits.begin() + (t + 1) * experts);
      std::vector<int32_t> table_row;
      if (params.mode == RoutingMode::hash)
        table_row.assign(table.begin() + token_ids[t] * params.top_k,
                         table.begin() + (token_ids[t] + 1) * params.top_k);
      const Routed want = reference_route(row, bias.empty() ? nullptr : &bias, params, &table_row);
      for (int64_t j = 0; j < params.top_k; ++j) {
        ASSERT_EQ(ids[t * params.top_k + j], want.ids[j]) << "token " << t << " slot " << j;
        ASSERT_NEAR(weights[t * params.top_k + j], want.weights[j], 1e-6f * std::abs(want.weights[j]) + 1e-7f)
            << "token " << t << " slot " << j;
      }
    }
  }
};

ThreadPool& test_pool() {
  static ThreadPool pool(2);
  return pool;
}

RoutingParams nemotron_like() {
  RoutingParams p;
  p.top_k = 6;
  p.n_group = 8;
  p.topk_group = 3;
  p.norm_topk_prob = true;
  p.routed_scaling_factor = 2.5f;
  return p;
}

TEST(MoeRouting, GroupLimitedSigmoidMatchesReference) {
  Problem pr(50, 32, nemotron_like());
  pr.randomize(1, 2.0f, 0.5f);
  pr.run(test_pool());
  pr.expect_matches_reference();
  // Every chosen expert lies in one of at most topk_group groups.
  for (int64_t t = 0; t < pr.tokens; ++t) {
    std::vector<int32_t> groups;
    for (int64_t j = 0; j < 6; ++j) groups.push_back(pr.ids[t * 6 + j] / 4);
    std::sort(groups.begin(), groups.end());
    EXPECT_LE(std::unique(groups.begin(), groups.end()) - groups.begin(), 3) << "token " << t;
  }
}

TEST(MoeRouting, ManyTokensAcrossThePoolMatchReference) {
  Problem pr(600, 64, nemotron_like());  // 38400 logits: runs on the pool
  pr.randomize(2, 1.5f, 0.3f);
  pr.run(test_pool());
  pr.expect_matches_reference();
}

// All biased scores negative: transformers masks the dropped groups with -inf, so the chosen experts
// come from the kept group even though a 0.0 mask (DeepSeek-V3's original code) would pick dropped ones.
TEST(MoeRouting, NegativeBiasedScoresStayInKeptGroups) {
  RoutingParams p;
  p.top_k = 2;
  p.n_group = 4;
  p.topk_group = 1;
  p.norm_topk_prob = true;
  p.routed_scaling_factor = 2.0f;
  Problem pr(1, 8, p);  // logits 0 → every score is 0.5
  pr.bias = {-3.0f, -3.0f, -0.6f, -3.0f, -2.0f, -2.0f, -4.0f, -4.0f};
  // biased: -2.5 -2.5 | -0.1 -2.5 | -1.5 -1.5 | -3.5 -3.5 → group sums -5, -2.6, -3, -7: group 1 wins,
  // and its -2.5 expert is chosen over every dropped expert (a 0.0 mask would have preferred those).
  pr.run(test_pool());
  EXPECT_EQ(pr.ids, (std::vector<int32_t>{2, 3}));
  EXPECT_FLOAT_EQ(pr.weights[0], 1.0f);  // 0.5 / (0.5 + 0.5) × 2
  EXPECT_FLOAT_EQ(pr.weights[1], 1.0f);

  pr.params.topk_group = 2;  // groups 1 and 2 kept: best c are -0.1 (expert 2), then -1.5 (4 before 5)
  pr.run(test_pool());
  EXPECT_EQ(pr.ids, (std::vector<int32_t>{2, 4}));

  Problem random(40, 32, nemotron_like());
  random.randomize(3, 2.0f, 0.3f);
  for (auto& b : random.bias) b -= 4.0f;
  random.run(test_pool());
  random.expect_matches_reference();
}

TEST(MoeRouting, BiasSelectsButDoesNotWeigh) {
  RoutingParams p;
  p.top_k = 1;
  Problem pr(1, 3, p);
  pr.logits = {2.0f, 0.0f, -1.0f};
  pr.bias = {0.0f, 0.0f, 5.0f};
  pr.run(test_pool());
  EXPECT_EQ(pr.ids[0], 2);
  EXPECT_FLOAT_EQ(pr.weights[0], 1.0f / (1.0f + std::exp(1.0f)));  // sigmoid(-1), unbiased, no norm
}

TEST(MoeRouting, NormalizationAndScalingOnAndOff) {
  for (bool norm : {false, true})
    for (float scale : {1.0f, 2.5f}) {
      RoutingParams p = nemotron_like();
      p.norm_topk_prob = norm;
      p.routed_scaling_factor = scale;
      Problem pr(20, 32, p);
      pr.randomize(4, 2.0f, 0.2f);
      pr.run(test_pool());
      pr.expect_matches_reference();
      for (int64_t t = 0; t < pr.tokens; ++t) {
        float sum = 0.0f;
        for (int64_t j = 0; j < p.top_k; ++j) sum += pr.weights[t * p.top_k + j];
        if (norm)
          EXPECT_NEAR(sum, scale, 1e-5f);
        else
          EXPECT_LT(sum, scale * static_cast<float>(p.top_k));  // sigmoid scores are below 1
      }
    }
}

TEST(MoeRouting, SoftmaxAndSqrtSoftplusScoring) {
  for (RouterScoring scoring : {RouterScoring::softmax, RouterScoring::sqrt_softplus}) {
    RoutingParams p;
    p.top_k = 4;
    p.scoring = scoring;
    p.norm_topk_prob = scoring == RouterScoring::sqrt_softplus;
    p.routed_scaling_factor = 1.5f;
    Problem pr(30, 16, p);
    pr.randomize(5, 3.0f, scoring == RouterScoring::sqrt_softplus ? 0.5f : 0.0f);
    pr.logits[3] = 30.0f;  // past softplus' threshold: identity
    pr.run(test_pool());
    SCOPED_TRACE(router_scoring_name(scoring));
    pr.expect_matches_reference();
  }
  // Softmax of equal logits over 4 experts is 1/4 each.
  RoutingParams p;
  p.top_k = 2;
  p.scoring = RouterScoring::softmax;
  Problem pr(1, 4, p);
  pr.run(test_pool());
  EXPECT_FLOAT_EQ(pr.weights[0], 0.25f);
  EXPECT_FLOAT_EQ(pr.weights[1], 0.25f);
}

TEST(MoeRouting, HashModeTakesTableRowsAndScoresTheirWeights) {
  RoutingParams p;
  p.top_k = 3;
  p.mode = RoutingMode::hash;
  p.scoring = RouterScoring::sqrt_softplus;
  p.norm_topk_prob = true;
  p.routed_scaling_factor = 1.5f;
  Problem pr(9, 16, p);
  pr.randomize(6, 2.0f, 1.0f);  // a bias is ignored by hash routing
  const int64_t vocab = 11;
  std::mt19937 rng(7);
  for (int64_t v = 0; v < vocab; ++v) {
    std::vector<int32_t> row(16);
    std::iota(row.begin(), row.end(), 0);
    std::shuffle(row.begin(), row.end(), rng);
    pr.table.insert(pr.table.end(), row.begin(), row.begin() + 3);
  }
  pr.token_ids = {0, 10, 3, 3, 7, 1, 2, 9, 5};
  pr.run(test_pool());
  pr.expect_matches_reference();
  for (int64_t t = 0; t < 9; ++t)
    for (int64_t j = 0; j < 3; ++j) EXPECT_EQ(pr.ids[t * 3 + j], pr.table[pr.token_ids[t] * 3 + j]);
  // Same token id, different logits: same experts, different weights.
  EXPECT_NE(pr.weights[2 * 3], pr.weights[3 * 3]);
}

TEST(MoeRouting, TiesGoToTheLowerIndexAndNanRanksFirst) {
  RoutingParams p;
  p.top_k = 3;
  p.n_group = 4;
  p.topk_group = 2;
  Problem pr(1, 8, p);  // all logits equal: groups tie, experts tie
  pr.run(test_pool());
  EXPECT_EQ(pr.ids, (std::vector<int32_t>{0, 1, 2}));

  RoutingParams q;
  q.top_k = 2;
  Problem tie(1, 5, q);
  tie.logits = {1.0f, 3.0f, 2.0f, 3.0f, 3.0f};
  tie.run(test_pool());
  EXPECT_EQ(tie.ids, (std::vector<int32_t>{1, 3}));

  tie.logits = {1.0f, 3.0f, std::numeric_limits<float>::quiet_NaN(), 3.0f, 0.0f};
  tie.run(test_pool());
  EXPECT_EQ(tie.ids, (std::vector<int32_t>{2, 1}));  // torch.topk puts NaN on top
}

TEST(MoeRouting, RejectsBadParametersAndOperands) {
  auto expect_error = [](Problem& pr, const char* what) {
    const RoutingTables t = pr.tables();
    try {
      check_moe_routing(pr.logits_t, t, pr.params, pr.ids_t, pr.weights_t);
      ADD_FAILURE() << "accepted: " << what;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
    }
  };
  {
    RoutingParams p = nemotron_like();
    p.top_k = 33;
    Problem pr(2, 32, p);
    expect_error(pr, "top_k");
  }
  {
    RoutingParams p = nemotron_like();
    p.n_group = 5;
    Problem pr(2, 32, p);
    expect_error(pr, "n_group = 5");
  }
  {
    RoutingParams p = nemotron_like();
    p.topk_group = 9;
    Problem pr(2, 32, p);
    expect_error(pr, "topk_group = 9");
  }
  {
    RoutingParams p = nemotron_like();
    p.topk_group = 1;  // 1 group of 4 experts cannot supply 6
    Problem pr(2, 32, p);
    expect_error(pr, "exceeds");
  }
  {
    RoutingParams p = nemotron_like();
    p.top_k = 2;
    p.n_group = 32;  // groups of one expert: no top-2 group score
    Problem pr(2, 32, p);
    expect_error(pr, "at least 2");
  }
  {
    RoutingParams p = nemotron_like();
    Problem pr(2, 32, p);
    pr.bias.assign(31, 0.0f);
    expect_error(pr, "e_score_correction_bias");
  }
  {
    RoutingParams p;
    p.top_k = 2;
    p.mode = RoutingMode::hash;
    Problem pr(2, 8, p);
    expect_error(pr, "tid2eid");  // no table
    pr.table = {0, 1, 2, 3, 4, 5};
    pr.token_ids = {0, 3};
    expect_error(pr, "token id 3");
    pr.token_ids = {0, 2};
    pr.table[5] = 8;
    expect_error(pr, "names expert 8");
    pr.table[5] = 7;
    pr.token_ids = {0};
    expect_error(pr, "token ids");
  }
  {
    Problem pr(2, 8, RoutingParams{});
    pr.tables();
    pr.ids_t.dtype = DType::i64;
    try {
      check_moe_routing(pr.logits_t, {}, pr.params, pr.ids_t, pr.weights_t);
      ADD_FAILURE() << "accepted i64 expert ids";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("expert_ids"), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace strata::kernels
