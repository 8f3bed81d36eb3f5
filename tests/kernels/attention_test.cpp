// Paged attention against a dense causal softmax attention in double: mixed batches (continued prefill,
// fresh prefill, long decodes across many blocks, padding), GQA ratios 1-4 and 8, block sizes, odd head_dim,
// sliding windows, bf16 pools, chunked == whole == token-by-token, and hostile inputs at the check.
#include "strata/kernels/cpu/attention.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "strata/core/dtype.h"
#include "strata/core/error.h"

namespace strata::kernels::cpu {
namespace {

struct Step {
  int32_t slot;
  int64_t start, length;
};

// A KV layer in paged form plus the dense history the oracle reads: per slot, every position's k and v
// rows as fed (rounded to bf16 when the pool is bf16, since attention reads them back from the pool).
struct PagedLayer {
  int64_t Hq, Hkv, hd, block_size, num_blocks, max_blocks, num_slots;
  DType dtype;
  Buffer k_pool, v_pool;
  std::vector<int32_t> tables;
  std::vector<std::vector<float>> k_history, v_history;  // [slot][position * Hkv*hd + ...]

  PagedLayer(int64_t Hq_, int64_t Hkv_, int64_t hd_, int64_t block_size_, int64_t max_positions,
             int64_t num_slots_, DType dtype_, uint32_t seed)
      : Hq(Hq_), Hkv(Hkv_), hd(hd_), block_size(block_size_), num_slots(num_slots_), dtype(dtype_) {
    max_blocks = (max_positions + block_size - 1) / block_size;
    num_blocks = max_blocks * num_slots + 3;
    const size_t pool_bytes = static_cast<size_t>(num_blocks * block_size * Hkv * hd) * dtype_size(dtype);
    k_pool = Buffer(pool_bytes);
    v_pool = Buffer(pool_bytes);
    // Every slot gets its blocks from a shuffled pool, so tables are far from the identity.
    std::vector<int32_t> ids(static_cast<size_t>(num_blocks));
    std::iota(ids.begin(), ids.end(), 0);
    std::shuffle(ids.begin(), ids.end(), std::mt19937(seed));
    tables.assign(static_cast<size_t>(num_slots * max_blocks), -1);
    for (size_t i = 0; i < tables.size(); ++i) tables[i] = ids[i];
    k_history.resize(static_cast<size_t>(num_slots));
    v_history.resize(static_cast<size_t>(num_slots));
  }
  int64_t kv_width() const { return Hkv * hd; }
  PagedKv view() const {
    return {k_pool.view(dtype, {num_blocks, block_size, Hkv, hd}), v_pool.view(dtype, {num_blocks, block_size, Hkv, hd}),
            Tensor::contiguous(const_cast<int32_t*>(tables.data()), DType::i32, {num_slots, max_blocks})};
  }
  float stored(float v) const { return dtype == DType::bf16 ? bf16_to_f32(f32_to_bf16(v)) : v; }
  // The pool's element at (slot, position, column), as f32.
  float pool_at(const Buffer& pool, int32_t slot, int64_t position, int64_t column) const {
    const int64_t block = tables[size_t(slot * max_blocks + position / block_size)];
    const int64_t index = (block * block_size + position % block_size) * kv_width() + column;
    return dtype == DType::bf16 ? bf16_to_f32(static_cast<const uint16_t*>(pool.data())[index])
                                : static_cast<const float*>(pool.data())[index];
  }
  // Writes a prefix straight into the pool (as an earlier step would have), bypassing the kernel.
  void seed_prefix(int32_t slot, int64_t length, std::mt19937& rng) {
    std::normal_distribution<float> normal(0.0f, 1.0f);
    for (int64_t position = 0; position < length; ++position) {
      const int64_t block = tables[size_t(slot * max_blocks + position / block_size)];
      for (int64_t c = 0; c < kv_width(); ++c) {
        const float k = normal(rng), v = normal(rng);
        const int64_t index = (block * block_size + position % block_size) * kv_width() + c;
        if (dtype == DType::bf16) {
          static_cast<uint16_t*>(k_pool.data())[index] = f32_to_bf16(k);
          static_cast<uint16_t*>(v_pool.data())[index] = f32_to_bf16(v);
        } else {
          static_cast<float*>(k_pool.data())[index] = k;
          static_cast<float*>(v_pool.data())[index] = v;
        }
        k_history[size_t(slot)].push_back(stored(k));
        v_history[size_t(slot)].push_back(stored(v));
      }
    }
  }
};

// One packed step: rows of [q | k | v | 5 slack columns], so the kernel sees strided windows.
struct PackedStep {
  std::vector<Step> steps;
  std::vector<int64_t> cu{0}, starts;
  std::vector<int32_t> slots;
  std::vector<uint8_t> has_initial;
  int64_t q_width, kv_width, row_width;
  std::vector<float> rows, out;

  PackedStep(const PagedLayer& layer, std::vector<Step> steps_, std::mt19937& rng) : steps(std::move(steps_)) {
    q_width = layer.Hq * layer.hd;
    kv_width = layer.kv_width();
    row_width = q_width + 2 * kv_width + 5;
    for (const Step& s : steps) {
      cu.push_back(cu.back() + s.length);
      starts.push_back(s.start);
      slots.push_back(s.slot);
      has_initial.push_back(s.start > 0);
    }
    std::normal_distribution<float> normal(0.0f, 1.0f);
    rows.resize(static_cast<size_t>(tokens() * row_width));
    for (float& v : rows) v = normal(rng);
    out.assign(static_cast<size_t>(tokens() * q_width), -7.0f);
  }
  int64_t tokens() const { return cu.back(); }
  VarlenBatch batch() const { return {cu, slots, has_initial}; }
  Tensor window(int64_t column, int64_t width) {
    Tensor t = Tensor::contiguous(rows.data() + column, DType::f32, {tokens(), width});
    t.strides[0] = row_width;
    return t;
  }
  PagedAttentionInputs inputs() { return {window(0, q_width), window(q_width, kv_width), window(q_width + kv_width, kv_width)}; }
  Tensor out_view() { return Tensor::contiguous(out.data(), DType::f32, {tokens(), q_width}); }
  float q(int64_t t, int64_t c) const { return rows[size_t(t * row_width + c)]; }
  float k(int64_t t, int64_t c) const { return rows[size_t(t * row_width + q_width + c)]; }
  float v(int64_t t, int64_t c) const { return rows[size_t(t * row_width + q_width + kv_width + c)]; }
};

// Appends the step's new k/v to the dense histories and returns the dense attention output (double).
std::vector<double> dense_attention(PagedLayer& layer, const PackedStep& step, int64_t window, double scale) {
  const int64_t hd = layer.hd, group = layer.Hq / layer.Hkv, kvw = layer.kv_width();
  std::vector<double> out(static_cast<size_t>(step.tokens() * step.q_width), 0.0);
  for (size_t i = 0; i < step.steps.size(); ++i) {
    const Step& s = step.steps[i];
    if (s.slot < 0) continue;  // padding rows stay zero
    auto& kh = layer.k_history[size_t(s.slot)];
    auto& vh = layer.v_history[size_t(s.slot)];
    EXPECT_EQ(static_cast<int64_t>(kh.size()), s.start * kvw) << "test bug: history out of step";
    for (int64_t j = 0; j < s.length; ++j)
      for (int64_t c = 0; c < kvw; ++c) {
        kh.push_back(layer.stored(step.k(step.cu[i] + j, c)));
        vh.push_back(layer.stored(step.v(step.cu[i] + j, c)));
      }
    for (int64_t j = 0; j < s.length; ++j) {
      const int64_t t = step.cu[i] + j, position = s.start + j;
      const int64_t lo = window > 0 ? std::max<int64_t>(0, position - window + 1) : 0;
      for (int64_t h = 0; h < layer.Hq; ++h) {
        const int64_t g = h / group;
        std::vector<double> scores;
        double max = -1e300;
        for (int64_t u = lo; u <= position; ++u) {
          double dot = 0;
          for (int64_t d = 0; d < hd; ++d) dot += double(step.q(t, h * hd + d)) * kh[size_t(u * kvw + g * hd + d)];
          scores.push_back(dot * scale);
          max = std::max(max, scores.back());
        }
        double sum = 0;
        for (double& sc : scores) sum += (sc = std::exp(sc - max));
        for (int64_t u = lo; u <= position; ++u)
          for (int64_t d = 0; d < hd; ++d)
            out[size_t(t * step.q_width + h * hd + d)] += scores[size_t(u - lo)] / sum * vh[size_t(u * kvw + g * hd + d)];
      }
    }
  }
  return out;
}

void run(const PagedAttentionParams& params, PagedLayer& layer, PackedStep& step, ThreadPool& pool) {
  const PagedKv kv = layer.view();
  check_paged_attention(params, step.batch(), step.starts, step.inputs(), kv, step.out_view());
  paged_attention(params, step.batch(), step.starts, step.inputs(), kv, step.out_view(), pool);
}

double max_error(const std::vector<double>& expected, const std::vector<float>& actual) {
  double worst = 0;
  for (size_t i = 0; i < expected.size(); ++i) {
    const double error = std::abs(expected[i] - double(actual[i]));
    if (!(error <= worst)) worst = std::isnan(error) ? INFINITY : error;  // a NaN must not hide
  }
  return worst;
}

// The task's mixed batch: a 37-token prefill continuing a 20-token prefix, a fresh 5-token prefill,
// two decodes over long caches, and a padding sequence, in slots out of order.
std::vector<Step> mixed_steps() {
  return {{3, 20, 37}, {0, 0, 5}, {5, 300, 1}, {-1, 0, 2}, {2, 517, 1}};
}

struct MixedCase {
  int64_t group, block_size, hd, window;
  DType dtype;
};

class PagedAttentionMixed : public ::testing::TestWithParam<MixedCase> {};

TEST_P(PagedAttentionMixed, MatchesDenseCausalAttentionAndStoresTheNewKeys) {
  const MixedCase c = GetParam();
  const int64_t Hkv = 2, Hq = Hkv * c.group;
  std::mt19937 rng(static_cast<uint32_t>(c.group * 1000 + c.block_size * 10 + c.hd));
  PagedLayer layer(Hq, Hkv, c.hd, c.block_size, 520, 6, c.dtype, 7);
  std::vector<Step> steps = mixed_steps();
  for (const Step& s : steps)
    if (s.slot >= 0) layer.seed_prefix(s.slot, s.start, rng);
  PackedStep step(layer, steps, rng);
  ThreadPool pool(2);
  const PagedAttentionParams params{Hq, Hkv, c.hd, c.window, 0.0f};
  run(params, layer, step, pool);
  const std::vector<double> expected = dense_attention(layer, step, c.window, 1.0 / std::sqrt(double(c.hd)));
  EXPECT_LT(max_error(expected, step.out), 2e-5);
  // Padding rows are zero rather than left as they were.
  for (int64_t t = step.cu[3]; t < step.cu[4]; ++t)
    for (int64_t col = 0; col < step.q_width; ++col) ASSERT_EQ(step.out[size_t(t * step.q_width + col)], 0.0f);
  // The new tokens' keys and values sit at their positions in the slot's blocks.
  for (size_t i = 0; i < steps.size(); ++i) {
    if (steps[i].slot < 0) continue;
    for (int64_t j = 0; j < steps[i].length; ++j)
      for (int64_t col = 0; col < layer.kv_width(); col += 5) {
        ASSERT_EQ(layer.pool_at(layer.k_pool, steps[i].slot, steps[i].start + j, col), layer.stored(step.k(step.cu[i] + j, col)));
        ASSERT_EQ(layer.pool_at(layer.v_pool, steps[i].slot, steps[i].start + j, col), layer.stored(step.v(step.cu[i] + j, col)));
      }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, PagedAttentionMixed,
    ::testing::Values(MixedCase{1, 16, 24, 0, DType::f32}, MixedCase{2, 16, 24, 0, DType::f32},
                      MixedCase{4, 16, 24, 0, DType::f32}, MixedCase{4, 1, 24, 0, DType::f32},
                      MixedCase{3, 16, 24, 0, DType::f32}, MixedCase{8, 4, 32, 9, DType::bf16},
                      MixedCase{1, 1, 64, 0, DType::f32}, MixedCase{2, 16, 128, 0, DType::f32},
                      MixedCase{4, 5, 40, 0, DType::f32},  // block size that cuts score tiles
                      MixedCase{2, 16, 24, 7, DType::f32}, MixedCase{4, 1, 24, 40, DType::f32},
                      MixedCase{2, 16, 64, 33, DType::f32}, MixedCase{2, 16, 24, 0, DType::bf16},
                      MixedCase{4, 16, 128, 19, DType::bf16}, MixedCase{1, 1, 17, 0, DType::bf16}));

TEST(PagedAttention, ExplicitScaleIsUsedInsteadOfTheDefault) {
  std::mt19937 rng(11);
  PagedLayer layer(4, 2, 32, 16, 64, 1, DType::f32, 3);
  layer.seed_prefix(0, 30, rng);
  PackedStep step(layer, {{0, 30, 3}}, rng);
  ThreadPool pool(1);
  run({4, 2, 32, 0, 0.9f}, layer, step, pool);
  EXPECT_LT(max_error(dense_attention(layer, step, 0, 0.9), step.out), 2e-5);
}

// Processes `total` tokens of one sequence in the given chunk lengths; returns every token's output.
std::vector<float> run_in_chunks(const std::vector<int64_t>& chunks, int64_t window, DType dtype, std::vector<float>& pool_out) {
  const int64_t Hq = 8, Hkv = 2, hd = 24;
  PagedLayer layer(Hq, Hkv, hd, 16, 80, 2, dtype, 5);
  std::mt19937 rng(99);  // the same token rows whatever the chunking
  int64_t total = 0;
  for (int64_t n : chunks) total += n;
  PackedStep all(layer, {{1, 0, total}}, rng);
  std::vector<float> outputs;
  ThreadPool pool(2);
  int64_t start = 0;
  for (int64_t n : chunks) {
    std::mt19937 unused(0);
    PackedStep step(layer, {{1, start, n}}, unused);
    std::copy(all.rows.begin() + start * all.row_width, all.rows.begin() + (start + n) * all.row_width, step.rows.begin());
    run({Hq, Hkv, hd, window, 0.0f}, layer, step, pool);
    outputs.insert(outputs.end(), step.out.begin(), step.out.end());
    start += n;
  }
  for (int64_t position = 0; position < total; ++position)
    for (int64_t c = 0; c < layer.kv_width(); ++c) pool_out.push_back(layer.pool_at(layer.k_pool, 1, position, c));
  return outputs;
}

TEST(PagedAttention, WholePrefillEqualsChunkedPrefillEqualsTokenByToken) {
  for (const DType dtype : {DType::f32, DType::bf16})
    for (const int64_t window : {int64_t{0}, int64_t{21}}) {
      std::vector<float> keys_whole, keys_chunked, keys_single;
      const std::vector<float> whole = run_in_chunks({70}, window, dtype, keys_whole);
      const std::vector<float> chunked = run_in_chunks({13, 1, 40, 16}, window, dtype, keys_chunked);
      const std::vector<float> single = run_in_chunks(std::vector<int64_t>(70, 1), window, dtype, keys_single);
      ASSERT_EQ(whole.size(), chunked.size());
      ASSERT_EQ(whole.size(), single.size());
      for (size_t i = 0; i < whole.size(); ++i) {
        ASSERT_NEAR(whole[i], chunked[i], 1e-5) << "element " << i << " window " << window;
        ASSERT_NEAR(whole[i], single[i], 1e-5) << "element " << i << " window " << window;
      }
      EXPECT_EQ(keys_whole, keys_chunked);
      EXPECT_EQ(keys_whole, keys_single);
    }
}

TEST(PagedAttention, ResultDoesNotDependOnThreadCountAndOutMayAliasQ) {
  std::mt19937 rng(21);
  PagedLayer layer(8, 2, 24, 16, 200, 3, DType::f32, 9);
  layer.seed_prefix(0, 150, rng);
  layer.seed_prefix(2, 9, rng);
  PackedStep step(layer, {{0, 150, 1}, {2, 9, 30}, {1, 0, 12}}, rng);
  PagedLayer layer_copy(8, 2, 24, 16, 200, 3, DType::f32, 9);
  std::memcpy(layer_copy.k_pool.data(), layer.k_pool.data(), layer.k_pool.size());
  std::memcpy(layer_copy.v_pool.data(), layer.v_pool.data(), layer.v_pool.size());
  PackedStep aliased = step;
  ThreadPool one(1), two(2);
  run({8, 2, 24, 0, 0.0f}, layer, step, one);
  // out is the q window of the fused rows itself.
  const PagedKv kv = layer_copy.view();
  Tensor q_as_out = aliased.window(0, aliased.q_width);
  paged_attention({8, 2, 24, 0, 0.0f}, aliased.batch(), aliased.starts, aliased.inputs(), kv, q_as_out, two);
  for (int64_t t = 0; t < step.tokens(); ++t)
    for (int64_t c = 0; c < step.q_width; ++c) ASSERT_EQ(step.out[size_t(t * step.q_width + c)], aliased.q(t, c));
}

TEST(PagedAttention, CheckRejectsInputsThatDoNotFit) {
  std::mt19937 rng(1);
  PagedLayer layer(4, 2, 16, 4, 32, 2, DType::f32, 1);
  PackedStep step(layer, {{0, 3, 5}, {1, 0, 2}}, rng);
  const PagedAttentionParams good{4, 2, 16, 0, 0.0f};
  auto check = [&](const PagedAttentionParams& p, const PagedKv& kv, std::vector<int64_t> starts) {
    check_paged_attention(p, step.batch(), starts, step.inputs(), kv, step.out_view());
  };
  EXPECT_NO_THROW(check(good, layer.view(), step.starts));
  EXPECT_THROW(check({4, 3, 16, 0, 0.0f}, layer.view(), step.starts), Error);   // Hq % Hkv
  EXPECT_THROW(check({4, 2, 300, 0, 0.0f}, layer.view(), step.starts), Error);  // head_dim too large
  EXPECT_THROW(check({4, 2, 16, -1, 0.0f}, layer.view(), step.starts), Error);  // window
  EXPECT_THROW(check({4, 2, 16, 0, NAN}, layer.view(), step.starts), Error);
  EXPECT_THROW(check(good, layer.view(), {3}), Error);       // one start per sequence
  EXPECT_THROW(check(good, layer.view(), {-1, 0}), Error);   // negative start
  EXPECT_THROW(check(good, layer.view(), {30, 0}), Error);   // past the block table's width
  PagedKv kv = layer.view();
  kv.v_pool.dtype = DType::bf16;  // K and V must agree
  EXPECT_THROW(check(good, kv, step.starts), Error);
  kv = layer.view();
  kv.block_tables.dtype = DType::i64;
  EXPECT_THROW(check(good, kv, step.starts), Error);
  layer.tables[0 * size_t(layer.max_blocks) + 1] = -1;  // a block the step writes is missing
  EXPECT_THROW(check(good, layer.view(), step.starts), Error);
  layer.tables[1] = static_cast<int32_t>(layer.num_blocks);  // out of range
  EXPECT_THROW(check(good, layer.view(), step.starts), Error);
  layer.tables[1] = 0;
  EXPECT_NO_THROW(check(good, layer.view(), step.starts));
  // Wrong activation shapes and a slot past the tables.
  EXPECT_THROW(check_paged_attention(good, step.batch(), step.starts, {step.window(0, 60), step.inputs().k, step.inputs().v},
                                     layer.view(), step.out_view()), Error);
  EXPECT_THROW(check_paged_attention(good, step.batch(), step.starts, step.inputs(), layer.view(),
                                     Tensor::contiguous(step.out.data(), DType::f32, {step.tokens() - 1, step.q_width})), Error);
  step.slots[1] = 2;
  EXPECT_THROW(check(good, layer.view(), step.starts), Error);
}

}  // namespace
}  // namespace strata::kernels::cpu
