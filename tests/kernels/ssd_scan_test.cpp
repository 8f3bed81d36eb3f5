// The chunked SSD scan against a plain double-precision token-by-token recurrence (the oracle), over
// shapes, chunk sizes, packed batches, initial states, dt limits, bf16 states and chunk-boundary captures;
// plus its gemm/exp building blocks and the boundary checks.
#include "strata/kernels/cpu/ssd_scan.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "strata/core/error.h"
#include "strata/kernels/cpu/ssd_gemm.h"

#if defined(__SSE__)
#include <immintrin.h>
#endif

namespace strata::kernels::cpu {
namespace {

// ---------------------------------------------------------------------------------------------------------
// Problem set-up: one in_proj-like row buffer [T, width] holding x | B | C | dt | padding, so every input is
// a column window with a row stride larger than its width, as in the model.

struct Problem {
  SsdParams params;
  std::vector<int64_t> lengths;
  std::vector<uint8_t> has_initial;
  DType state_dtype = DType::f32;
  uint32_t seed = 1;
};

struct Data {
  Problem problem;
  int64_t tokens = 0, row_width = 0, x_col = 0, b_col = 0, c_col = 0, dt_col = 0;
  std::vector<float> rows;
  std::vector<float> a, d, dt_bias;
  std::vector<int64_t> cu_seqlens;
  std::vector<int32_t> slots;
  int64_t num_slots = 0;
  std::vector<float> states;          // [num_slots, H, P, N] when f32
  std::vector<uint16_t> states_bf16;  // the same when bf16

  int64_t slot_elems() const {
    return problem.params.n_heads * problem.params.head_dim * problem.params.state_size;
  }
  float state_at(int64_t slot, int64_t i) const {
    return problem.state_dtype == DType::f32
               ? states[static_cast<size_t>(slot * slot_elems() + i)]
               : bf16_to_f32(states_bf16[static_cast<size_t>(slot * slot_elems() + i)]);
  }
  VarlenBatch batch() const { return {cu_seqlens, slots, problem.has_initial}; }
  Tensor window(int64_t col, int64_t width) const {
    Tensor t;
    t.data = const_cast<float*>(rows.data()) + col;
    t.dtype = DType::f32;
    t.ndim = 2;
    t.shape = {tokens, width};
    t.strides = {row_width, 1};
    return t;
  }
  SsdInputs inputs() const {
    const SsdParams& p = problem.params;
    auto vec = [](const std::vector<float>& v) {
      return Tensor::contiguous(const_cast<float*>(v.data()), DType::f32, {static_cast<int64_t>(v.size())});
    };
    return {window(x_col, p.n_heads * p.head_dim),
            window(dt_col, p.n_heads),
            window(b_col, p.n_groups * p.state_size),
            window(c_col, p.n_groups * p.state_size),
            vec(a),
            vec(d),
            vec(dt_bias)};
  }
  Tensor state_tensor() {
    const SsdParams& p = problem.params;
    void* ptr = problem.state_dtype == DType::f32 ? static_cast<void*>(states.data()) : states_bf16.data();
    return Tensor::contiguous(ptr, problem.state_dtype, {num_slots, p.n_heads, p.head_dim, p.state_size});
  }
};

Data make_data(const Problem& problem) {
  const SsdParams& p = problem.params;
  Data data;
  data.problem = problem;
  if (data.problem.has_initial.empty()) data.problem.has_initial.assign(problem.lengths.size(), 1);
  std::mt19937 rng(problem.seed);
  std::uniform_real_distribution<float> unit(-1.0f, 1.0f);
  data.cu_seqlens.push_back(0);
  for (int64_t len : problem.lengths) data.cu_seqlens.push_back(data.cu_seqlens.back() + len);
  data.tokens = data.cu_seqlens.back();
  data.x_col = 0;
  data.b_col = p.n_heads * p.head_dim;
  data.c_col = data.b_col + p.n_groups * p.state_size;
  data.dt_col = data.c_col + p.n_groups * p.state_size;
  data.row_width = data.dt_col + p.n_heads + 5;
  data.rows.resize(static_cast<size_t>(data.tokens * data.row_width));
  for (int64_t t = 0; t < data.tokens; ++t)
    for (int64_t col = 0; col < data.row_width; ++col) {
      float v = unit(rng);
      if (col >= data.dt_col) v = -1.0f + 2.0f * v;  // raw dt in [-3, 1]
      data.rows[static_cast<size_t>(t * data.row_width + col)] = v;
    }
  std::uniform_real_distribution<float> a_log(std::log(0.5f), std::log(8.0f));  // A in [-8, -0.5]
  for (int64_t h = 0; h < p.n_heads; ++h) {
    data.a.push_back(-std::exp(a_log(rng)));
    data.d.push_back(unit(rng));
    data.dt_bias.push_back(0.5f * unit(rng));
  }
  // Slots are a shuffled subset of a larger pool, so the test also sees that unused slots stay untouched.
  const int64_t num_sequences = static_cast<int64_t>(problem.lengths.size());
  data.num_slots = num_sequences + 3;
  std::vector<int32_t> all(static_cast<size_t>(data.num_slots));
  for (size_t i = 0; i < all.size(); ++i) all[i] = static_cast<int32_t>(i);
  std::shuffle(all.begin(), all.end(), rng);
  data.slots.assign(all.begin(), all.begin() + num_sequences);
  const size_t pool_elems = static_cast<size_t>(data.num_slots * data.slot_elems());
  data.states.resize(pool_elems);
  for (float& v : data.states) v = unit(rng);
  if (problem.state_dtype == DType::bf16) {
    for (float v : data.states) data.states_bf16.push_back(f32_to_bf16(v));
    data.states.clear();
  }
  return data;
}

// ---------------------------------------------------------------------------------------------------------
// The oracle: S_t = exp(dt·A)·S_{t−1} + dt·x_t ⊗ B_t, y_t = S_t·C_t + D·x_t, in double, token by token.

struct Reference {
  std::vector<double> y;                                          // [T, H*P]
  std::vector<std::vector<double>> final_states;                  // per sequence [H*P*N]
  std::map<std::pair<int64_t, int64_t>, std::vector<double>> at;  // (sequence, offset) -> state
};

double softplus_double(double v) { return v > 20.0 ? v : std::log1p(std::exp(v)); }

Reference recurrence(const Data& data) {
  const SsdParams& p = data.problem.params;
  const int64_t H = p.n_heads, P = p.head_dim, N = p.state_size, heads_per_group = p.n_heads / p.n_groups;
  Reference ref;
  ref.y.assign(static_cast<size_t>(data.tokens * H * P), 0.0);
  for (size_t i = 0; i < data.slots.size(); ++i) {
    std::vector<double> s(static_cast<size_t>(H * P * N), 0.0);
    if (data.problem.has_initial[i])
      for (size_t e = 0; e < s.size(); ++e) s[e] = data.state_at(data.slots[i], static_cast<int64_t>(e));
    ref.at[{static_cast<int64_t>(i), 0}] = s;
    const int64_t begin = data.cu_seqlens[i], end = data.cu_seqlens[i + 1];
    for (int64_t t = begin; t < end; ++t) {
      const float* row = data.rows.data() + t * data.row_width;
      for (int64_t h = 0; h < H; ++h) {
        const int64_t g = h / heads_per_group;
        double dt = static_cast<double>(row[data.dt_col + h]) + data.dt_bias[static_cast<size_t>(h)];
        if (p.dt_softplus) dt = softplus_double(dt);
        dt = std::min(std::max(dt, static_cast<double>(p.dt_min)), static_cast<double>(p.dt_max));
        const double decay = std::exp(dt * data.a[static_cast<size_t>(h)]);
        for (int64_t pp = 0; pp < P; ++pp) {
          const double x = row[data.x_col + h * P + pp];
          double y = data.d[static_cast<size_t>(h)] * x;
          double* sp = s.data() + (h * P + pp) * N;
          for (int64_t n = 0; n < N; ++n) {
            sp[n] = decay * sp[n] + dt * x * row[data.b_col + g * N + n];
            y += sp[n] * row[data.c_col + g * N + n];
          }
          ref.y[static_cast<size_t>(t * H * P + h * P + pp)] = y;
        }
      }
      ref.at[{static_cast<int64_t>(i), t - begin + 1}] = s;
    }
    ref.final_states.push_back(s);
  }
  return ref;
}

// ---------------------------------------------------------------------------------------------------------
// Running the kernel.

std::vector<float> run_scan(Data& data, ThreadPool& pool, std::span<const SsdCapture> captures = {}) {
  const SsdParams& p = data.problem.params;
  std::vector<float> y(static_cast<size_t>(data.tokens * p.n_heads * p.head_dim), -777.0f);
  Tensor y_tensor = Tensor::contiguous(y.data(), DType::f32, {data.tokens, p.n_heads * p.head_dim});
  const VarlenBatch batch = data.batch();
  const size_t bytes = ssd_workspace_bytes(p, data.tokens, batch.num_sequences(), pool.size());
  Buffer workspace(bytes);
  std::memset(workspace.data(), 0xff, bytes);  // NaN everywhere: the kernel must not rely on zeroed scratch
  const SsdInputs inputs = data.inputs();
  check_ssd_scan(p, inputs, batch, data.state_tensor(), y_tensor, captures, bytes, pool.size());
  ssd_scan(p, inputs, batch, data.state_tensor(), y_tensor, captures, workspace.data(), bytes, pool);
  return y;
}

double max_abs(const std::vector<double>& v) {
  double m = 0.0;
  for (double e : v) m = std::max(m, std::abs(e));
  return m;
}

// max |got − want| / max |want|: the normwise relative error.
template <typename Got>
double relative_error(const Got& got, const std::vector<double>& want) {
  double diff = 0.0;
  for (size_t i = 0; i < want.size(); ++i) {
    const double e = std::abs(static_cast<double>(got[i]) - want[i]);
    if (std::isnan(e)) return std::numeric_limits<double>::infinity();  // std::max would drop a NaN
    diff = std::max(diff, e);
  }
  return diff / std::max(max_abs(want), 1e-30);
}

constexpr double kTolerance = 1e-4;

// Runs the kernel and the oracle and checks y, every sequence's slot, and that unused slots are untouched.
void expect_matches_recurrence(const Problem& problem, ThreadPool& pool) {
  Data data = make_data(problem);
  const Data before = data;
  const Reference ref = recurrence(data);
  const std::vector<float> y = run_scan(data, pool);
  const SsdParams& p = problem.params;
  SCOPED_TRACE(::testing::Message() << "H=" << p.n_heads << " P=" << p.head_dim << " N=" << p.state_size
                                    << " G=" << p.n_groups << " Q=" << p.chunk_size
                                    << " threads=" << pool.size());
  if (data.tokens > 0) {
    EXPECT_LE(relative_error(y, ref.y), kTolerance);
  }
  const int64_t elems = data.slot_elems();
  for (size_t i = 0; i < data.slots.size(); ++i) {
    std::vector<double> got(static_cast<size_t>(elems));
    for (int64_t e = 0; e < elems; ++e) got[static_cast<size_t>(e)] = data.state_at(data.slots[i], e);
    const double bf16_slack = problem.state_dtype == DType::bf16 ? 1.0 / 256 : 0.0;
    EXPECT_LE(relative_error(got, ref.final_states[i]), kTolerance + bf16_slack) << "sequence " << i;
  }
  for (int64_t slot = 0; slot < data.num_slots; ++slot) {
    if (std::find(data.slots.begin(), data.slots.end(), slot) != data.slots.end()) continue;
    for (int64_t e = 0; e < elems; ++e) ASSERT_EQ(data.state_at(slot, e), before.state_at(slot, e));
  }
}

SsdParams shape(int64_t heads, int64_t head_dim, int64_t state_size, int64_t n_groups, int64_t chunk_size) {
  SsdParams p;
  p.n_heads = heads;
  p.head_dim = head_dim;
  p.state_size = state_size;
  p.n_groups = n_groups;
  p.chunk_size = chunk_size;
  return p;
}

// ---------------------------------------------------------------------------------------------------------

TEST(SsdScan, MatchesRecurrenceAcrossShapesAndLengths) {
  ThreadPool one(1), two(2);
  struct Case {
    SsdParams params;
    std::vector<int64_t> lengths;
  };
  const std::vector<Case> cases = {
      {shape(4, 8, 16, 2, 8), {37}},                     // not a multiple of the chunk
      {shape(3, 5, 7, 1, 4), {4}},                       // exactly one chunk
      {shape(3, 5, 7, 3, 4), {3}},                       // below one chunk, one head per group
      {shape(2, 4, 4, 1, 16), {1}},                      // one token
      {shape(6, 16, 32, 3, 16), {1, 33, 16, 7, 48, 2}},  // packed batch of mixed lengths
      {shape(2, 33, 17, 2, 32), {100, 65}},              // widths that are not whole vectors
      {shape(4, 8, 8, 2, 1), {5, 3}},                    // chunk of one token: all state passing
      {shape(4, 8, 8, 1, 128), {3, 50}},                 // chunk longer than every sequence
      {shape(8, 64, 128, 1, 64), {200, 64}},             // mamba2 head and state sizes
      {shape(4, 64, 128, 4, 256), {300}},                // mamba2's chunk size
  };
  uint32_t seed = 10;
  for (const Case& c : cases) {
    const size_t n = c.lengths.size();
    std::vector<uint8_t> mixed(n);
    for (size_t i = 0; i < n; ++i) mixed[i] = static_cast<uint8_t>(i % 2 == 0);
    for (const auto& init : {std::vector<uint8_t>(n, 1), std::vector<uint8_t>(n, 0), mixed}) {
      Problem problem{c.params, c.lengths, init, DType::f32, ++seed};
      expect_matches_recurrence(problem, seed % 2 ? one : two);
    }
  }
}

TEST(SsdScan, ZeroLengthSequencesKeepOrClearTheirState) {
  ThreadPool pool(2);
  expect_matches_recurrence({shape(2, 4, 8, 1, 4), {0, 9, 0}, {1, 1, 0}, DType::f32, 3}, pool);
}

TEST(SsdScan, SameResultOnOneAndTwoThreads) {
  ThreadPool one(1), two(2);
  Problem problem{shape(6, 16, 32, 2, 16), {40, 3, 17, 64}, {1, 0, 1, 1}, DType::f32, 5};
  Data a = make_data(problem), b = make_data(problem);
  EXPECT_EQ(run_scan(a, one), run_scan(b, two));
  EXPECT_EQ(a.states, b.states);
}

#if defined(__SSE__)
TEST(SsdScan, RestoresTheCallersDenormalMode) {
  // The kernel flushes denormals while it runs (they are slow on Intel cores) but must not leak the mode.
  ThreadPool pool(2);
  Data data = make_data({shape(2, 8, 8, 1, 8), {20}, {1}, DType::f32, 71});
  const unsigned before = _mm_getcsr();
  run_scan(data, pool);
  EXPECT_EQ(_mm_getcsr(), before);
}
#endif

TEST(SsdScan, ChunkedPrefillEqualsOnePass) {
  // Feeding a sequence in three calls, each starting from the slot the last one wrote, is the same
  // recurrence as one call; the oracle of the whole sequence checks the stitched result.
  ThreadPool pool(2);
  Problem whole{shape(4, 8, 16, 2, 8), {70}, {1}, DType::f32, 21};
  Data data = make_data(whole);
  const Reference ref = recurrence(data);
  const SsdParams& p = whole.params;
  const int64_t width = p.n_heads * p.head_dim;
  std::vector<float> y_all;
  for (auto [begin, end] : {std::pair<int64_t, int64_t>{0, 13}, {13, 45}, {45, 70}}) {
    Data part = data;
    part.tokens = end - begin;
    part.cu_seqlens = {0, end - begin};
    part.rows.assign(data.rows.begin() + begin * data.row_width, data.rows.begin() + end * data.row_width);
    const std::vector<float> y = run_scan(part, pool);
    y_all.insert(y_all.end(), y.begin(), y.end());
    data.states = part.states;
  }
  ASSERT_EQ(static_cast<int64_t>(y_all.size()), 70 * width);
  EXPECT_LE(relative_error(y_all, ref.y), kTolerance);
  std::vector<double> final_state(ref.final_states[0].size());
  for (size_t e = 0; e < final_state.size(); ++e)
    final_state[e] = data.state_at(data.slots[0], static_cast<int64_t>(e));
  EXPECT_LE(relative_error(final_state, ref.final_states[0]), kTolerance);
}

TEST(SsdScan, AppliesDtLimits) {
  ThreadPool pool(2);
  Problem problem{shape(4, 8, 16, 2, 8), {29, 12}, {1, 0}, DType::f32, 31};
  problem.params.dt_min = 0.2f;
  problem.params.dt_max = 0.6f;
  expect_matches_recurrence(problem, pool);
  // The limits must actually bite on these inputs, or the check above proves nothing about them.
  Data limited = make_data(problem);
  problem.params.dt_min = 0.0f;
  problem.params.dt_max = std::numeric_limits<float>::infinity();
  Data unlimited = make_data(problem);
  EXPECT_NE(run_scan(limited, pool), run_scan(unlimited, pool));
  // Without softplus the biased raw dt is used as is (then clamped, here to keep it positive).
  problem.params.dt_softplus = false;
  problem.params.dt_min = 0.01f;
  problem.params.dt_max = 2.0f;
  expect_matches_recurrence(problem, pool);
}

TEST(SsdScan, Bf16StateStorage) {
  ThreadPool pool(2);
  Problem problem{shape(4, 16, 32, 2, 16), {50, 7, 16}, {1, 1, 0}, DType::bf16, 41};
  expect_matches_recurrence(problem, pool);
  // The final store rounds once to nearest: each stored value is the bf16 nearest the f32 result.
  Data data = make_data(problem);
  const Reference ref = recurrence(data);
  run_scan(data, pool);
  for (size_t i = 0; i < data.slots.size(); ++i)
    for (size_t e = 0; e < ref.final_states[i].size(); ++e) {
      const double want = ref.final_states[i][e];
      const double got = data.state_at(data.slots[i], static_cast<int64_t>(e));
      ASSERT_LE(std::abs(got - want), std::abs(want) / 256.0 + 1e-5) << "sequence " << i << " element " << e;
    }
}

TEST(SsdScan, CapturesStatesAtChunkBoundaries) {
  ThreadPool pool(2);
  const SsdParams p = shape(4, 8, 16, 2, 8);
  Problem problem{p, {21, 32, 5}, {1, 0, 1}, DType::f32, 51};
  Data data = make_data(problem);
  const Reference ref = recurrence(data);
  const std::vector<std::pair<int64_t, int64_t>> wanted = {{0, 0},  {0, 8},  {0, 16}, {1, 8},
                                                           {1, 24}, {1, 32}, {2, 0}};
  const int64_t elems = data.slot_elems();
  std::vector<std::vector<float>> dest(wanted.size(), std::vector<float>(static_cast<size_t>(elems), -5.0f));
  std::vector<SsdCapture> captures;
  for (size_t i = 0; i < wanted.size(); ++i)
    captures.push_back({wanted[i].first, wanted[i].second,
                        Tensor::contiguous(dest[i].data(), DType::f32, {p.n_heads, p.head_dim, p.state_size})});
  run_scan(data, pool, captures);
  for (size_t i = 0; i < wanted.size(); ++i)
    EXPECT_LE(relative_error(dest[i], ref.at.at(wanted[i])), kTolerance)
        << "sequence " << wanted[i].first << " offset " << wanted[i].second;
}

TEST(SsdScan, CheckRejectsBadArguments) {
  ThreadPool pool(2);
  Problem problem{shape(4, 8, 16, 2, 8), {10, 6}, {1, 0}, DType::f32, 61};
  Data data = make_data(problem);
  const SsdParams& p = problem.params;
  std::vector<float> y(static_cast<size_t>(data.tokens * p.n_heads * p.head_dim));
  const Tensor y_tensor = Tensor::contiguous(y.data(), DType::f32, {data.tokens, p.n_heads * p.head_dim});
  const size_t bytes = ssd_workspace_bytes(p, data.tokens, 2, pool.size());
  std::vector<float> capture_buffer(static_cast<size_t>(data.slot_elems()));
  const Tensor capture_tensor =
      Tensor::contiguous(capture_buffer.data(), DType::f32, {p.n_heads, p.head_dim, p.state_size});
  auto expect_error = [&](const std::string& needle, SsdParams params, SsdInputs inputs, VarlenBatch batch,
                          Tensor states, Tensor out, std::vector<SsdCapture> captures, size_t workspace) {
    try {
      check_ssd_scan(params, inputs, batch, states, out, captures, workspace, pool.size());
      ADD_FAILURE() << "expected an error mentioning '" << needle << "'";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  const SsdInputs good = data.inputs();
  const VarlenBatch batch = data.batch();
  const Tensor states = data.state_tensor();
  EXPECT_NO_THROW(check_ssd_scan(p, good, batch, states, y_tensor, {}, bytes, pool.size()));

  SsdParams bad_groups = p;
  bad_groups.n_groups = 3;
  expect_error("multiple of n_groups", bad_groups, good, batch, states, y_tensor, {}, bytes);
  SsdParams bad_dt = p;
  bad_dt.dt_min = 2.0f;
  bad_dt.dt_max = 1.0f;
  expect_error("dt_min <= dt_max", bad_dt, good, batch, states, y_tensor, {}, bytes);
  SsdParams negative_dt = p;
  negative_dt.dt_min = -1.0f;
  expect_error("dt_min must be >= 0", negative_dt, good, batch, states, y_tensor, {}, bytes);
  std::vector<float> positive_a = data.a;
  positive_a[2] = 0.5f;
  SsdInputs growing = good;
  growing.A.data = positive_a.data();
  expect_error("A[2] = 0.5 must be <= 0", p, growing, batch, states, y_tensor, {}, bytes);
  SsdInputs narrow = good;
  narrow.x.shape[1] -= 1;
  expect_error("x must be", p, narrow, batch, states, y_tensor, {}, bytes);
  SsdInputs strided = good;
  strided.B.strides[1] = 2;
  expect_error("B must have unit column stride", p, strided, batch, states, y_tensor, {}, bytes);
  SsdInputs short_a = good;
  short_a.A.shape[0] = 3;
  expect_error("A must be", p, short_a, batch, states, y_tensor, {}, bytes);
  expect_error("overlaps input x", p, good, batch, states, data.window(data.x_col, p.n_heads * p.head_dim), {},
               bytes);
  const std::vector<int32_t> out_of_range = {0, static_cast<int32_t>(data.num_slots)};
  expect_error("outside the state pool", p, good, {batch.cu_seqlens, out_of_range, batch.has_initial_state},
               states, y_tensor, {}, bytes);
  const std::vector<int32_t> duplicate = {1, 1};
  expect_error("used by two sequences", p, good, {batch.cu_seqlens, duplicate, batch.has_initial_state},
               states, y_tensor, {}, bytes);
  const std::vector<int64_t> decreasing = {0, 10, 9};
  expect_error("non-decreasing", p, good, {decreasing, batch.slots, batch.has_initial_state}, states,
               y_tensor, {}, bytes);
  Tensor f16_states = states;
  f16_states.dtype = DType::f16;
  expect_error("ssm_states must be", p, good, batch, f16_states, y_tensor, {}, bytes);
  expect_error("offsets must be multiples", p, good, batch, states, y_tensor, {{0, 4, capture_tensor}},
               bytes);
  expect_error("offsets must be multiples", p, good, batch, states, y_tensor, {{1, 8, capture_tensor}},
               bytes);
  expect_error("names sequence 2", p, good, batch, states, y_tensor, {{2, 0, capture_tensor}}, bytes);
  expect_error("workspace of", p, good, batch, states, y_tensor, {}, bytes - 1);
}

// ---------------------------------------------------------------------------------------------------------
// Building blocks.

TEST(SsdGemm, MatchesPlainProductsWithTailsAndCausalModes) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> unit(-1.0f, 1.0f);
  for (auto [m, n, k] : {std::tuple<int64_t, int64_t, int64_t>{1, 1, 1},
                         {7, 13, 5},
                         {8, 32, 64},
                         {19, 45, 33},
                         {64, 64, 128},
                         {37, 37, 37}}) {
    for (GemmCausal causal : {GemmCausal::none, GemmCausal::k_through_row, GemmCausal::n_through_row}) {
      if (causal != GemmCausal::none && m != n && causal == GemmCausal::n_through_row) continue;
      const int64_t lda = k + 3, ldb = n + 5, ldc = n + 2;
      std::vector<float> a(static_cast<size_t>(m * lda)), b(static_cast<size_t>(k * ldb));
      for (float& v : a) v = unit(rng);
      for (float& v : b) v = unit(rng);
      if (causal == GemmCausal::k_through_row)
        for (int64_t i = 0; i < m; ++i)
          for (int64_t kk = i + 1; kk < k; ++kk) a[static_cast<size_t>(i * lda + kk)] = 0.0f;
      for (bool accumulate : {false, true}) {
        std::vector<float> c_start(static_cast<size_t>(m * ldc));
        for (float& v : c_start) v = unit(rng);
        std::vector<float> fast = c_start, plain = c_start;
        ssd_gemm(m, n, k, a.data(), lda, b.data(), ldb, fast.data(), ldc, accumulate, causal);
        ssd_gemm_portable(m, n, k, a.data(), lda, b.data(), ldb, plain.data(), ldc, accumulate, causal);
        for (int64_t i = 0; i < m; ++i)
          for (int64_t j = 0; j < ldc; ++j) {
            const size_t at = static_cast<size_t>(i * ldc + j);
            if (j >= n) {  // padding between rows is never written
              ASSERT_EQ(fast[at], c_start[at]);
              continue;
            }
            if (causal == GemmCausal::n_through_row && j > i) continue;  // unspecified
            double want = accumulate ? c_start[at] : 0.0;
            for (int64_t kk = 0; kk < k; ++kk)
              want += static_cast<double>(a[static_cast<size_t>(i * lda + kk)]) *
                      b[static_cast<size_t>(kk * ldb + j)];
            ASSERT_NEAR(fast[at], want, 1e-5 * static_cast<double>(k))
                << m << "x" << n << "x" << k << " " << i << "," << j;
            ASSERT_NEAR(plain[at], want, 1e-5 * static_cast<double>(k));
          }
      }
    }
  }
}

TEST(SsdGemm, ExpOfNonPositiveArguments) {
  std::vector<float> in;
  for (float v = -110.0f; v <= 0.0f; v += 0.0173f) in.push_back(v);
  in.push_back(0.0f);
  in.push_back(3.0f);  // clamped to exp(0)
  std::vector<float> out(in.size());
  ssd_exp_nonpositive(in.data(), out.data(), static_cast<int64_t>(in.size()));
  for (size_t i = 0; i < in.size(); ++i) {
    const double want = std::exp(std::min(static_cast<double>(in[i]), 0.0));
    // 2 ulp for normal results; absolute near the denormal range, where ulps are coarse.
    ASSERT_NEAR(out[i], want, std::max(want * 2.4e-7, 1e-44)) << "exp(" << in[i] << ")";
  }
}

}  // namespace
}  // namespace strata::kernels::cpu
