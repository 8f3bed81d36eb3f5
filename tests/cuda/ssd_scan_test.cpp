// The CUDA chunked SSD scan against its CPU twin on the same random inputs (column windows of one
// in_proj-like row buffer, poisoned outputs and scratch, a batch that is a part of a larger step so
// row_offset and offset device pointers are exercised), and one case against the plain recurrence.
// Covers the CPU test's shapes and cases, odd sizes, bf16 pools, captures, dt limits and the real
// mamba2-2.7b and Nemotron-H-8B shapes; prints every case's error so a device run shows the margins.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "cuda_test_support.h"
#include "strata/core/error.h"
#include "strata/kernels/ssd.h"

namespace strata::kernels {
namespace {

namespace st = strata::testing;

// f32 twins, same algorithm and summation order: observed errors are expected near 1e-6; 1e-4 is the
// budget of the brief (the states pass through up to T / Q chunk boundaries).
constexpr double kTolerance = 1e-4;
// The fast path (SsdParams::bf16_products): x, B, C, the masked C·Bᵀ and the entering state meet the
// tensor cores as bf16 (2^-9 relative each), summed in f32 over up to Q tokens or N state entries.
constexpr double kBf16Tolerance = 1.5e-2;

// random: the CPU test's data (dt in softplus([-3, 1] + bias), A in [-8, -0.5]): strong decay, so the
// entering state matters only for a chunk's first tokens. model: Mamba2-like dt in [0.001, 0.1] and A in
// [-16, -1], so many heads carry their state across several chunks (state passing really is tested).
enum class Style { random, model };

struct Problem {
  SsdParams params;
  std::vector<int64_t> lengths;
  std::vector<uint8_t> has_initial;  // empty: all 1
  DType state_dtype = DType::f32;
  uint32_t seed = 1;
  Style style = Style::random;
  int64_t y_pad = 0;  // extra floats per row of y (a strided output)
};

SsdParams shape(int64_t heads, int64_t head_dim, int64_t state_size, int64_t n_groups, int64_t chunk_size) {
  SsdParams p;
  p.n_heads = heads;
  p.head_dim = head_dim;
  p.state_size = state_size;
  p.n_groups = n_groups;
  p.chunk_size = chunk_size;
  return p;
}

// Host inputs: rows [T, width] = x | B | C | dt | padding, so every input is a column window.
struct Host {
  Problem problem;
  int64_t tokens = 0, row_width = 0, x_col = 0, b_col = 0, c_col = 0, dt_col = 0;
  std::vector<float> rows, a, d, dt_bias;
  std::vector<int64_t> cu;
  std::vector<int32_t> slots;
  int64_t num_slots = 0;
  std::vector<uint8_t> pool;  // [num_slots, H, P, N] in state_dtype

  const SsdParams& p() const { return problem.params; }
  int64_t width() const { return p().n_heads * p().head_dim; }
  int64_t slot_elems() const { return p().n_heads * p().head_dim * p().state_size; }
  int64_t ldy() const { return width() + problem.y_pad; }
  size_t pool_bytes() const { return pool.size(); }
  float pool_at(const std::vector<uint8_t>& bytes, int64_t slot, int64_t e) const {
    const size_t i = static_cast<size_t>(slot * slot_elems() + e);
    if (problem.state_dtype == DType::f32) {
      float v;
      std::memcpy(&v, bytes.data() + i * 4, 4);
      return v;
    }
    uint16_t v;
    std::memcpy(&v, bytes.data() + i * 2, 2);
    return bf16_to_f32(v);
  }
};

Host make_host(const Problem& problem) {
  const SsdParams& p = problem.params;
  Host h;
  h.problem = problem;
  if (h.problem.has_initial.empty()) h.problem.has_initial.assign(problem.lengths.size(), 1);
  std::mt19937 rng(problem.seed);
  std::uniform_real_distribution<float> unit(-1.0f, 1.0f);
  h.cu.push_back(0);
  for (int64_t len : problem.lengths) h.cu.push_back(h.cu.back() + len);
  h.tokens = h.cu.back();
  h.b_col = p.n_heads * p.head_dim;
  h.c_col = h.b_col + p.n_groups * p.state_size;
  h.dt_col = h.c_col + p.n_groups * p.state_size;
  h.row_width = h.dt_col + p.n_heads + 5;
  h.rows.resize(static_cast<size_t>(h.tokens * h.row_width));
  for (int64_t t = 0; t < h.tokens; ++t)
    for (int64_t col = 0; col < h.row_width; ++col) {
      float v = unit(rng);
      if (col >= h.dt_col) v = problem.style == Style::random ? -1.0f + 2.0f * v : 0.5f * v;
      h.rows[static_cast<size_t>(t * h.row_width + col)] = v;
    }
  for (int64_t head = 0; head < p.n_heads; ++head) {
    if (problem.style == Style::random) {
      std::uniform_real_distribution<float> a_log(std::log(0.5f), std::log(8.0f));
      h.a.push_back(-std::exp(a_log(rng)));
      h.d.push_back(unit(rng));
      h.dt_bias.push_back(0.5f * unit(rng));
    } else {
      std::uniform_real_distribution<float> a_log(0.0f, std::log(16.0f));
      std::uniform_real_distribution<float> dt_log(std::log(0.001f), std::log(0.1f));
      h.a.push_back(-std::exp(a_log(rng)));
      h.d.push_back(unit(rng));
      h.dt_bias.push_back(std::log(std::expm1(std::exp(dt_log(rng)))));  // softplus⁻¹ of the target dt
    }
  }
  // Slots: a shuffled subset of a larger pool, so unused slots must stay untouched.
  const int64_t num_sequences = static_cast<int64_t>(problem.lengths.size());
  h.num_slots = num_sequences + 3;
  std::vector<int32_t> all(static_cast<size_t>(h.num_slots));
  for (size_t i = 0; i < all.size(); ++i) all[i] = static_cast<int32_t>(i);
  std::shuffle(all.begin(), all.end(), rng);
  h.slots.assign(all.begin(), all.begin() + num_sequences);
  const size_t elems = static_cast<size_t>(h.num_slots * h.slot_elems());
  h.pool.resize(elems * dtype_size(problem.state_dtype));
  for (size_t i = 0; i < elems; ++i) {
    const float v = unit(rng);
    if (problem.state_dtype == DType::f32) {
      std::memcpy(h.pool.data() + i * 4, &v, 4);
    } else {
      const uint16_t b = f32_to_bf16(v);
      std::memcpy(h.pool.data() + i * 2, &b, 2);
    }
  }
  return h;
}

Tensor window(float* base, const Host& h, int64_t col, int64_t width, Device device) {
  Tensor t;
  t.data = base + col;
  t.dtype = DType::f32;
  t.device = device;
  t.ndim = 2;
  t.shape = {h.tokens, width};
  t.strides = {h.row_width, 1};
  return t;
}

Tensor row_major(float* data, int64_t rows, int64_t cols, int64_t ld, Device device) {
  Tensor t;
  t.data = data;
  t.dtype = DType::f32;
  t.device = device;
  t.ndim = 2;
  t.shape = {rows, cols};
  t.strides = {ld, 1};
  return t;
}

struct CaptureSpec {
  int64_t sequence, offset;
};

// What a run leaves behind, all on the host.
struct Outcome {
  std::vector<float> y;          // [T, ldy], padding included
  std::vector<uint8_t> pool;     // the whole pool
  std::vector<std::vector<float>> captures;
};

constexpr float kPoison = std::numeric_limits<float>::quiet_NaN();

ThreadPool& cpu_pool() {
  static ThreadPool pool(static_cast<int>(std::max(2u, std::min(8u, std::thread::hardware_concurrency()))));
  return pool;
}

Outcome run_cpu(const Host& h, const std::vector<CaptureSpec>& specs) {
  const SsdParams& p = h.p();
  Host copy = h;
  Outcome out;
  out.y.assign(static_cast<size_t>(std::max<int64_t>(h.tokens * h.ldy(), 1)), kPoison);
  out.pool = h.pool;
  const SsdInputs inputs{window(copy.rows.data(), h, h.x_col, h.width(), Device::cpu),
                         window(copy.rows.data(), h, h.dt_col, p.n_heads, Device::cpu),
                         window(copy.rows.data(), h, h.b_col, p.n_groups * p.state_size, Device::cpu),
                         window(copy.rows.data(), h, h.c_col, p.n_groups * p.state_size, Device::cpu),
                         Tensor::contiguous(copy.a.data(), DType::f32, {p.n_heads}),
                         Tensor::contiguous(copy.d.data(), DType::f32, {p.n_heads}),
                         Tensor::contiguous(copy.dt_bias.data(), DType::f32, {p.n_heads})};
  const Tensor pool = Tensor::contiguous(out.pool.data(), h.problem.state_dtype,
                                         {h.num_slots, p.n_heads, p.head_dim, p.state_size});
  const Tensor y = row_major(out.y.data(), h.tokens, h.width(), h.ldy(), Device::cpu);
  out.captures.assign(specs.size(), std::vector<float>(static_cast<size_t>(h.slot_elems()), -5.0f));
  std::vector<SsdCapture> captures;
  for (size_t i = 0; i < specs.size(); ++i)
    captures.push_back({specs[i].sequence, specs[i].offset,
                        Tensor::contiguous(out.captures[i].data(), DType::f32,
                                           {p.n_heads, p.head_dim, p.state_size})});
  const VarlenBatch batch{h.cu, h.slots, h.problem.has_initial};
  ThreadPool& threads = cpu_pool();
  const size_t bytes = ssd_workspace_bytes(p, h.tokens, batch.num_sequences(), threads.size());
  Buffer workspace(bytes);
  check_ssd_scan(p, inputs, batch, pool, y, captures, bytes, threads.size());
  ssd_scan(p, inputs, batch, pool, y, captures, workspace.data(), bytes, threads);
  return out;
}

template <typename T>
Buffer upload(const std::vector<T>& host) {
  const size_t bytes = host.size() * sizeof(T);
  Buffer buffer(std::max<size_t>(bytes, 1), Device::cuda);
  if (bytes > 0) cuda::copy(buffer.data(), host.data(), bytes);
  return buffer;
}

template <typename T>
std::vector<T> download(const Buffer& buffer, size_t count) {
  st::gpu()->synchronize();
  std::vector<T> host(count);
  if (count > 0) cuda::copy(host.data(), buffer.data(), count * sizeof(T));
  return host;
}

// The batch is the second part of a step whose first sequence (kLeadRows rows, slot kLeadSlot) is not
// ours: the device arrays point one sequence in and row_offset subtracts the leading rows.
constexpr int64_t kLeadRows = 5;
constexpr int32_t kLeadSlot = 1 << 20;

// The whole GPU side of one run; the buffers stay alive for reruns.
struct GpuRun {
  const Host& h;
  Buffer rows, a, d, dt_bias, pool, y, cu, slots, has_initial, workspace;
  std::vector<Buffer> captures;
  size_t workspace_bytes = 0;
  SsdInputs inputs;
  VarlenBatch batch;
  Tensor pool_tensor, y_tensor;
  std::vector<SsdCapture> capture_list;

  GpuRun(const Host& host, const std::vector<CaptureSpec>& specs) : h(host) {
    const SsdParams& p = h.p();
    rows = upload(h.rows);
    a = upload(h.a);
    d = upload(h.d);
    dt_bias = upload(h.dt_bias);
    pool = upload(h.pool);
    y = upload(std::vector<float>(static_cast<size_t>(h.tokens * h.ldy()), kPoison));
    std::vector<int64_t> step_cu = {0};
    for (int64_t c : h.cu) step_cu.push_back(kLeadRows + c);
    std::vector<int32_t> step_slots = {kLeadSlot};
    step_slots.insert(step_slots.end(), h.slots.begin(), h.slots.end());
    std::vector<uint8_t> step_initial = {1};
    step_initial.insert(step_initial.end(), h.problem.has_initial.begin(), h.problem.has_initial.end());
    cu = upload(step_cu);
    slots = upload(step_slots);
    has_initial = upload(step_initial);

    float* base = static_cast<float*>(rows.data());
    inputs = {window(base, h, h.x_col, h.width(), Device::cuda),
              window(base, h, h.dt_col, p.n_heads, Device::cuda),
              window(base, h, h.b_col, p.n_groups * p.state_size, Device::cuda),
              window(base, h, h.c_col, p.n_groups * p.state_size, Device::cuda),
              Tensor::contiguous(a.data(), DType::f32, {p.n_heads}, Device::cuda),
              Tensor::contiguous(d.data(), DType::f32, {p.n_heads}, Device::cuda),
              Tensor::contiguous(dt_bias.data(), DType::f32, {p.n_heads}, Device::cuda)};
    batch = VarlenBatch{h.cu, h.slots, h.problem.has_initial,
                        VarlenDevice{static_cast<const int64_t*>(cu.data()) + 1,
                                     static_cast<const int32_t*>(slots.data()) + 1,
                                     static_cast<const uint8_t*>(has_initial.data()) + 1, kLeadRows}};
    pool_tensor = Tensor::contiguous(pool.data(), h.problem.state_dtype,
                                     {h.num_slots, p.n_heads, p.head_dim, p.state_size}, Device::cuda);
    y_tensor = row_major(static_cast<float*>(y.data()), h.tokens, h.width(), h.ldy(), Device::cuda);
    for (const CaptureSpec& spec : specs) {
      captures.push_back(upload(std::vector<float>(static_cast<size_t>(h.slot_elems()), -5.0f)));
      capture_list.push_back({spec.sequence, spec.offset,
                              Tensor::contiguous(captures.back().data(), DType::f32,
                                                 {p.n_heads, p.head_dim, p.state_size}, Device::cuda)});
    }
    // Scratch poisoned with 0xff (NaN floats, -1 integers), handed over 64 bytes past a 256-byte boundary
    // so the kernel's own alignment is exercised; workspace_bytes is exactly what the formula asks.
    workspace_bytes = ssd_workspace_bytes(p, h.tokens, batch.num_sequences(), 1, Device::cuda);
    workspace = upload(std::vector<uint8_t>(workspace_bytes + 64, 0xff));
    check_ssd_scan(p, inputs, batch, pool_tensor, y_tensor, capture_list, workspace_bytes, 1);
  }

  void run() {
    ssd_scan(h.p(), inputs, batch, pool_tensor, y_tensor, capture_list,
             static_cast<char*>(workspace.data()) + 64, workspace_bytes, st::gpu_exec());
    st::gpu()->synchronize();
  }

  Outcome outcome() const {
    Outcome out;
    out.y = download<float>(y, static_cast<size_t>(h.tokens * h.ldy()));
    out.pool = download<uint8_t>(pool, h.pool.size());
    for (const Buffer& c : captures) out.captures.push_back(download<float>(c, static_cast<size_t>(h.slot_elems())));
    return out;
  }
};

Outcome run_gpu(const Host& h, const std::vector<CaptureSpec>& specs) {
  GpuRun run(h, specs);
  run.run();
  return run.outcome();
}

std::vector<float> valid_y(const Host& h, const std::vector<float>& y) {
  std::vector<float> out;
  out.reserve(static_cast<size_t>(h.tokens * h.width()));
  for (int64_t t = 0; t < h.tokens; ++t)
    for (int64_t c = 0; c < h.width(); ++c) out.push_back(y[static_cast<size_t>(t * h.ldy() + c)]);
  return out;
}

std::vector<float> slot_floats(const Host& h, const std::vector<uint8_t>& pool, int64_t slot) {
  std::vector<float> out(static_cast<size_t>(h.slot_elems()));
  for (int64_t e = 0; e < h.slot_elems(); ++e) out[static_cast<size_t>(e)] = h.pool_at(pool, slot, e);
  return out;
}

std::string describe(const Problem& problem) {
  const SsdParams& p = problem.params;
  // Appends only: GCC 12's -Wrestrict misfires on literal + std::string&& once inlined.
  std::string s;
  for (auto [name, value] : {std::pair<const char*, int64_t>{"H=", p.n_heads}, {" P=", p.head_dim},
                             {" N=", p.state_size}, {" G=", p.n_groups}, {" Q=", p.chunk_size}}) {
    s += name;
    s += std::to_string(value);
  }
  s += " lengths={";
  for (size_t i = 0; i < problem.lengths.size(); ++i) {
    if (i) s += ",";
    s += std::to_string(problem.lengths[i]);
    if (!problem.has_initial.empty() && !problem.has_initial[i]) s += "(fresh)";
  }
  s += "}";
  if (problem.style == Style::model) s += " model-dt";
  if (problem.state_dtype == DType::bf16) s += " bf16-pool";
  if (p.bf16_products) s += " tensor-cores";
  if (problem.y_pad) {
    s += " y_pad=";
    s += std::to_string(problem.y_pad);
  }
  return s;
}

// Both twins on the same inputs: y, every slot (bf16: within one rounding step), untouched slots and y
// padding, captures.
// `worst`, when given, receives the largest of the three errors.
void expect_gpu_matches_cpu(const Problem& problem, const std::vector<CaptureSpec>& specs = {},
                            double* worst = nullptr) {
  SCOPED_TRACE(describe(problem));
  const bool tensor_cores = problem.params.bf16_products;
  const double tolerance = tensor_cores ? kBf16Tolerance : kTolerance;
  const Host h = make_host(problem);
  const Outcome cpu = run_cpu(h, specs);
  const Outcome gpu = run_gpu(h, specs);

  double y_error = 0.0;
  if (h.tokens > 0) {
    const std::vector<float> want = valid_y(h, cpu.y), got = valid_y(h, gpu.y);
    y_error = st::relative_max_error(got.data(), want.data(), want.size());
    EXPECT_LE(y_error, tolerance) << "y";
    for (int64_t t = 0; t < h.tokens; ++t)
      for (int64_t c = h.width(); c < h.ldy(); ++c)
        ASSERT_TRUE(std::isnan(gpu.y[static_cast<size_t>(t * h.ldy() + c)])) << "y padding written, row " << t;
  }

  double state_error = 0.0;
  for (int64_t slot = 0; slot < h.num_slots; ++slot) {
    const bool used = std::find(h.slots.begin(), h.slots.end(), slot) != h.slots.end();
    const std::vector<float> want = slot_floats(h, cpu.pool, slot), got = slot_floats(h, gpu.pool, slot);
    if (!used) {
      ASSERT_EQ(0, std::memcmp(got.data(), slot_floats(h, h.pool, slot).data(), got.size() * sizeof(float)))
          << "unused slot " << slot << " was written";
      continue;
    }
    const double e = st::relative_max_error(got.data(), want.data(), want.size());
    state_error = std::max(state_error, e);
    if (problem.state_dtype == DType::f32 || tensor_cores) {
      EXPECT_LE(e, tolerance) << "slot " << slot;
    } else {
      // Each twin rounds its f32 state once; f32 results a few ulps apart may round to neighbouring bf16
      // values near a rounding boundary, so allow one bf16 step (2^-8 relative) per element.
      for (size_t i = 0; i < want.size(); ++i)
        ASSERT_LE(std::fabs(got[i] - want[i]), std::max(std::fabs(want[i]), std::fabs(got[i])) / 128.0f + 1e-6f)
            << "slot " << slot << " element " << i;
    }
  }

  double capture_error = 0.0;
  for (size_t i = 0; i < specs.size(); ++i) {
    const double e = st::relative_max_error(gpu.captures[i].data(), cpu.captures[i].data(), cpu.captures[i].size());
    capture_error = std::max(capture_error, e);
    EXPECT_LE(e, tolerance) << "capture of sequence " << specs[i].sequence << " at " << specs[i].offset;
  }
  std::printf("[ssd cuda] %s: y %.2e, states %.2e, captures %.2e\n", describe(problem).c_str(), y_error,
              state_error, capture_error);
  if (worst) *worst = std::max({y_error, state_error, capture_error});
}

Problem on_tensor_cores(Problem problem) {
  problem.params.bf16_products = true;
  return problem;
}

// ---------------------------------------------------------------------------------------------------------

TEST(CudaSsdScan, MatchesCpuAcrossShapesAndLengths) {
  STRATA_REQUIRE_GPU();
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
      {shape(2, 33, 17, 2, 32), {100, 65}},              // widths that are not whole tiles or vectors
      {shape(4, 8, 8, 2, 1), {5, 3}},                    // chunk of one token: all state passing
      {shape(4, 8, 8, 1, 128), {3, 50}},                 // chunk longer than every sequence
      {shape(8, 64, 128, 1, 64), {200, 64}},             // mamba2 head and state sizes
      {shape(4, 64, 128, 4, 256), {300}},                // mamba2's chunk size
      {shape(3, 80, 100, 3, 100), {250, 99, 1}},         // P, N and Q past one 64-tile, ragged
      {shape(2, 130, 70, 1, 200), {401}},                // three P tiles, four ragged t tiles
  };
  uint32_t seed = 100;
  for (const Case& c : cases) {
    const size_t n = c.lengths.size();
    std::vector<uint8_t> mixed(n);
    for (size_t i = 0; i < n; ++i) mixed[i] = static_cast<uint8_t>(i % 2 == 0);
    for (const auto& init : {std::vector<uint8_t>(n, 1), std::vector<uint8_t>(n, 0), mixed})
      for (Style style : {Style::random, Style::model})
        expect_gpu_matches_cpu({c.params, c.lengths, init, DType::f32, ++seed, style});
  }
}

TEST(CudaSsdScan, ZeroLengthSequencesKeepOrClearTheirState) {
  STRATA_REQUIRE_GPU();
  expect_gpu_matches_cpu({shape(2, 4, 8, 1, 4), {0, 9, 0}, {1, 1, 0}, DType::f32, 3});
  expect_gpu_matches_cpu({shape(2, 4, 8, 1, 4), {0, 0}, {1, 0}, DType::f32, 4});  // no tokens at all
}

TEST(CudaSsdScan, AppliesDtLimitsAndRawDt) {
  STRATA_REQUIRE_GPU();
  Problem problem{shape(4, 8, 16, 2, 8), {29, 12}, {1, 0}, DType::f32, 31};
  problem.params.dt_min = 0.2f;
  problem.params.dt_max = 0.6f;
  expect_gpu_matches_cpu(problem);
  problem.params.dt_softplus = false;  // the biased raw dt as is, clamped positive
  problem.params.dt_min = 0.01f;
  problem.params.dt_max = 2.0f;
  expect_gpu_matches_cpu(problem);
  Problem model{shape(8, 64, 128, 2, 64), {300, 77}, {1, 1}, DType::f32, 32, Style::model};
  model.params.dt_min = 0.005f;
  model.params.dt_max = 0.05f;
  expect_gpu_matches_cpu(model);
}

TEST(CudaSsdScan, Bf16StatePool) {
  STRATA_REQUIRE_GPU();
  expect_gpu_matches_cpu({shape(4, 16, 32, 2, 16), {50, 7, 16}, {1, 1, 0}, DType::bf16, 41});
  expect_gpu_matches_cpu({shape(8, 64, 128, 1, 64), {200, 64}, {1, 0}, DType::bf16, 42, Style::model});
}

TEST(CudaSsdScan, CapturesStatesAtChunkBoundaries) {
  STRATA_REQUIRE_GPU();
  // Offsets 0 (the initial state, loaded or zero), interior boundaries, and 32 = the final state of a
  // sequence whose length is a multiple of Q.
  const std::vector<CaptureSpec> specs = {{0, 0}, {0, 8}, {0, 16}, {1, 8}, {1, 24}, {1, 32}, {2, 0}, {1, 0}};
  expect_gpu_matches_cpu({shape(4, 8, 16, 2, 8), {21, 32, 5}, {1, 0, 1}, DType::f32, 51}, specs);
  expect_gpu_matches_cpu({shape(4, 8, 16, 2, 8), {21, 32, 5}, {1, 0, 1}, DType::bf16, 52, Style::model}, specs);
}

TEST(CudaSsdScan, StridedOutputRowsLeaveThePaddingUntouched) {
  STRATA_REQUIRE_GPU();
  Problem problem{shape(6, 16, 32, 3, 16), {40, 3, 17, 64}, {1, 0, 1, 1}, DType::f32, 61};
  problem.y_pad = 7;
  expect_gpu_matches_cpu(problem);
}

TEST(CudaSsdScan, RunsAreDeterministic) {
  STRATA_REQUIRE_GPU();
  const Host h = make_host({shape(8, 64, 128, 2, 64), {300, 77}, {1, 0}, DType::f32, 71, Style::model});
  const Outcome first = run_gpu(h, {{0, 128}});
  const Outcome second = run_gpu(h, {{0, 128}});
  EXPECT_EQ(0, std::memcmp(first.y.data(), second.y.data(), first.y.size() * sizeof(float)));  // NaN padding: bits
  EXPECT_EQ(first.pool, second.pool);
  EXPECT_EQ(first.captures, second.captures);
}

// The plain recurrence S_t = exp(dt·A)·S_{t−1} + dt·x_t ⊗ B_t, y_t = S_t·C_t + D·x_t, in double.
TEST(CudaSsdScan, MatchesThePlainRecurrence) {
  STRATA_REQUIRE_GPU();
  const Problem problem{shape(4, 8, 16, 2, 8), {21, 32, 5}, {1, 0, 1}, DType::f32, 81, Style::model};
  const Host h = make_host(problem);
  const SsdParams& p = h.p();
  const int64_t H = p.n_heads, P = p.head_dim, N = p.state_size, per_group = H / p.n_groups;
  std::vector<double> y(static_cast<size_t>(h.tokens * H * P));
  std::vector<std::vector<double>> finals;
  for (size_t i = 0; i < h.slots.size(); ++i) {
    std::vector<double> s(static_cast<size_t>(H * P * N), 0.0);
    if (problem.has_initial[i])
      for (size_t e = 0; e < s.size(); ++e) s[e] = h.pool_at(h.pool, h.slots[i], static_cast<int64_t>(e));
    for (int64_t t = h.cu[i]; t < h.cu[i + 1]; ++t) {
      const float* row = h.rows.data() + t * h.row_width;
      for (int64_t head = 0; head < H; ++head) {
        const int64_t g = head / per_group;
        double dt = static_cast<double>(row[h.dt_col + head]) + h.dt_bias[static_cast<size_t>(head)];
        dt = dt > 20.0 ? dt : std::log1p(std::exp(dt));
        const double decay = std::exp(dt * h.a[static_cast<size_t>(head)]);
        for (int64_t pp = 0; pp < P; ++pp) {
          const double x = row[h.x_col + head * P + pp];
          double out = h.d[static_cast<size_t>(head)] * x;
          double* sp = s.data() + (head * P + pp) * N;
          for (int64_t n = 0; n < N; ++n) {
            sp[n] = decay * sp[n] + dt * x * row[h.b_col + g * N + n];
            out += sp[n] * row[h.c_col + g * N + n];
          }
          y[static_cast<size_t>(t * H * P + head * P + pp)] = out;
        }
      }
    }
    finals.push_back(s);
  }
  const Outcome gpu = run_gpu(h, {});
  const std::vector<float> got = valid_y(h, gpu.y);
  std::vector<float> want(y.begin(), y.end());
  EXPECT_LE(st::relative_max_error(got.data(), want.data(), want.size()), kTolerance);
  for (size_t i = 0; i < h.slots.size(); ++i) {
    const std::vector<float> state = slot_floats(h, gpu.pool, h.slots[i]);
    const std::vector<float> expected(finals[i].begin(), finals[i].end());
    EXPECT_LE(st::relative_max_error(state.data(), expected.data(), expected.size()), kTolerance) << "sequence " << i;
  }
}

// mamba2-2.7b: H=80, P=64, N=128, G=1, Q=256; a 2048-token prefill as one sequence and as three.
TEST(CudaSsdScan, Mamba2_2_7bShapes) {
  STRATA_REQUIRE_GPU();
  const SsdParams p = shape(80, 64, 128, 1, 256);
  expect_gpu_matches_cpu({p, {2048}, {0}, DType::f32, 91, Style::model}, {{0, 0}, {0, 1024}, {0, 2048}});
  expect_gpu_matches_cpu({p, {700, 1024, 324}, {1, 0, 1}, DType::f32, 92, Style::model}, {{1, 512}, {2, 256}});
  expect_gpu_matches_cpu({p, {2048}, {1}, DType::bf16, 93, Style::model});

  // Time per call of one layer's scan (no check), for the report: prefill cost = 64 × this.
  for (const std::vector<int64_t>& lengths : {std::vector<int64_t>{2048}, std::vector<int64_t>(8, 2048)})
    for (bool tensor_cores : {false, true}) {
      Problem problem{p, lengths, std::vector<uint8_t>(lengths.size(), 1), DType::f32, 94, Style::model};
      problem.params.bf16_products = tensor_cores;
      const Host h = make_host(problem);
      GpuRun run(h, {});
      run.run();
      const int reps = 10;
      const auto start = std::chrono::steady_clock::now();
      for (int i = 0; i < reps; ++i)
        ssd_scan(h.p(), run.inputs, run.batch, run.pool_tensor, run.y_tensor, {},
                 static_cast<char*>(run.workspace.data()) + 64, run.workspace_bytes, st::gpu_exec());
      st::gpu()->synchronize();
      const double ms =
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count() / reps;
      std::printf("[ssd cuda] mamba2-2.7b layer, %zu x 2048 tokens, %s: %.3f ms per ssd_scan (%.1f M tokens/s)\n",
                  lengths.size(), tensor_cores ? "tensor cores" : "f32", ms, 2048.0 * lengths.size() / ms / 1e3);
    }
}

// The fast path's tensor-core products against the f32 CPU twin: the shape sweep's ragged tiles, fresh and
// carried states, captures, bf16 pools, and the real model shapes. Its error must stay within the bf16
// budget and be visibly above f32's on the large shapes (the products really ran in bf16).
TEST(CudaSsdScan, TensorCoreProductsMatchTheCpuWithinBf16) {
  STRATA_REQUIRE_GPU();
  const std::vector<std::pair<SsdParams, std::vector<int64_t>>> cases = {
      {shape(4, 8, 16, 2, 8), {37}},
      {shape(3, 5, 7, 3, 4), {3}},
      {shape(6, 16, 32, 3, 16), {1, 33, 16, 7, 48, 2}},
      {shape(2, 33, 17, 2, 32), {100, 65}},
      {shape(4, 8, 8, 2, 1), {5, 3}},
      {shape(3, 80, 100, 3, 100), {250, 99, 1}},
      {shape(2, 130, 70, 1, 200), {401}},
  };
  uint32_t seed = 300;
  for (const auto& [params, lengths] : cases) {
    std::vector<uint8_t> mixed(lengths.size());
    for (size_t i = 0; i < mixed.size(); ++i) mixed[i] = static_cast<uint8_t>(i % 2 == 0);
    for (Style style : {Style::random, Style::model})
      expect_gpu_matches_cpu(on_tensor_cores({params, lengths, mixed, DType::f32, ++seed, style}));
  }
  const std::vector<CaptureSpec> specs = {{0, 0}, {0, 8}, {1, 24}, {1, 32}, {2, 0}};
  expect_gpu_matches_cpu(on_tensor_cores({shape(4, 8, 16, 2, 8), {21, 32, 5}, {1, 0, 1}, DType::f32, 310}), specs);
  expect_gpu_matches_cpu(
      on_tensor_cores({shape(4, 8, 16, 2, 8), {21, 32, 5}, {1, 0, 1}, DType::bf16, 311, Style::model}), specs);

  double big = 0;
  expect_gpu_matches_cpu(
      on_tensor_cores({shape(80, 64, 128, 1, 256), {700, 1024, 324}, {1, 0, 1}, DType::f32, 312, Style::model}),
      {{1, 512}}, &big);
  EXPECT_GT(big, 1e-5) << "no bf16 rounding visible: did the tensor-core path run?";
  expect_gpu_matches_cpu(
      on_tensor_cores({shape(128, 64, 128, 8, 128), {1000, 37, 300}, {1, 0, 1}, DType::f32, 313, Style::model}),
      {{0, 512}});
  expect_gpu_matches_cpu(on_tensor_cores({shape(80, 64, 128, 1, 256), {2048}, {1}, DType::bf16, 314, Style::model}));
}

// Nemotron-H-8B: H=128, P=64, N=128, G=8 (16 heads per group), Q=128.
TEST(CudaSsdScan, NemotronH8bShapes) {
  STRATA_REQUIRE_GPU();
  const SsdParams p = shape(128, 64, 128, 8, 128);
  expect_gpu_matches_cpu({p, {1000, 37, 300}, {1, 0, 1}, DType::f32, 101, Style::model}, {{0, 512}, {2, 0}});
  expect_gpu_matches_cpu({p, {1024}, {0}, DType::f32, 102, Style::random}, {{0, 1024}});
}

TEST(CudaSsdScan, ChecksAcceptCudaOperandsWithoutReadingThem) {
  STRATA_REQUIRE_GPU();
  const Host h = make_host({shape(4, 8, 16, 2, 8), {10, 6}, {1, 0}, DType::f32, 111});
  GpuRun run(h, {});  // its constructor already ran check_ssd_scan on device operands
  const SsdParams& p = h.p();
  auto error_of = [&](const VarlenBatch& batch, const Tensor& y, size_t bytes) -> std::string {
    try {
      check_ssd_scan(p, run.inputs, batch, run.pool_tensor, y, {}, bytes, 1);
    } catch (const Error& e) {
      return e.what();
    }
    return "<no error>";
  };
  EXPECT_NE(error_of(run.batch, run.y_tensor, run.workspace_bytes - 1).find("workspace of"), std::string::npos);
  // The CPU formula is not enough on CUDA.
  const size_t cpu_bytes = ssd_workspace_bytes(p, h.tokens, 2, 1);
  EXPECT_LT(cpu_bytes, run.workspace_bytes);
  EXPECT_NE(error_of(run.batch, run.y_tensor, cpu_bytes).find("on cuda"), std::string::npos);
  VarlenBatch host_only = run.batch;
  host_only.device = {};
  EXPECT_NE(error_of(host_only, run.y_tensor, run.workspace_bytes).find("on the device"), std::string::npos);
  std::vector<float> host_y(static_cast<size_t>(h.tokens * h.width()));
  const Tensor cpu_y = row_major(host_y.data(), h.tokens, h.width(), h.width(), Device::cpu);
  EXPECT_NE(error_of(run.batch, cpu_y, run.workspace_bytes).find("y must be a 2-D f32 cuda tensor"),
            std::string::npos);
  // The CUDA twin itself refuses a short workspace before launching anything.
  try {
    ssd_scan(p, run.inputs, run.batch, run.pool_tensor, run.y_tensor, {}, run.workspace.data(), cpu_bytes,
             st::gpu_exec());
    ADD_FAILURE() << "a short CUDA workspace was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("too small"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace strata::kernels
