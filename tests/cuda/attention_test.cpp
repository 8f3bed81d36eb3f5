// CUDA paged attention against its CPU twin on the same random inputs and pools: prefill (lengths 1, 17,
// 300, fresh and continuing a cached prefix, mixed with decode rows, padding and empty sequences),
// decode (contexts 1 .. 5000, batch 1 and 64), verify (2..9 tokens over a prefix, across the decode /
// prefill kernel boundary), GQA ratios 1/4/8/64, head_dim 17 .. 256, sliding windows (also narrower than
// a verify span), block sizes 1 .. 64, f32 and bf16 pools, shuffled block ids in a block table wider
// than it needs, device metadata behind junk entries with a row offset, strided q/k/v windows, out
// aliasing q. Outputs agree within 1e-5 (both read the same pool values; only the summation order
// differs); the pools agree bit for bit (same f32 -> bf16 rounding). A captured decode call replayed
// after the contexts grew equals a fresh eager call bit for bit.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <numeric>
#include <string>
#include <random>
#include <thread>
#include <vector>

#include "cuda_test_support.h"
#include "mamba_test_support.h"
#include "strata/core/cuda_graph.h"
#include "strata/core/error.h"
#include "strata/kernels/attention.h"

namespace strata {
namespace {

using kernels::Mirrored;
using kernels::PagedAttentionInputs;
using kernels::PagedAttentionParams;
using kernels::PagedKv;
using testing::DeviceBatch;
using testing::Twin;

constexpr double kTolerance = 1e-5;

// The CPU oracle is slow at 300-token prefills with 32 heads: give it every core of the GPU host.
ThreadPool& oracle_pool() {
  static ThreadPool pool(static_cast<int>(std::max(2u, std::thread::hardware_concurrency())));
  return pool;
}
Exec cpu_exec() { return Exec(oracle_pool()); }

struct Shape {
  int64_t Hq, Hkv, hd;
  DType dtype;
  int64_t window = 0;
  int64_t block_size = 16;  // the cache's default
  float scale = 0.0f;
};

std::string describe(const Shape& s) {
  return "Hq=" + std::to_string(s.Hq) + " Hkv=" + std::to_string(s.Hkv) + " hd=" + std::to_string(s.hd) + " " +
         std::string(dtype_name(s.dtype)) + " window=" + std::to_string(s.window) + " block=" + std::to_string(s.block_size);
}

PagedAttentionParams params_of(const Shape& s) {
  return {.n_heads = s.Hq, .n_kv_heads = s.Hkv, .head_dim = s.hd, .sliding_window = s.window, .scale = s.scale};
}

// One attention layer's paged KV store on both sides. The pools start random (the "cached prefix" of
// every slot is whatever they hold), every slot's blocks are a shuffled selection of the pool, and the
// table rows are 3 entries wider than max_blocks (the view keeps that stride, so a kernel that uses the
// width as the stride shows).
struct Layer {
  Shape shape;
  int64_t num_slots, max_blocks, num_blocks;
  Twin k_pool, v_pool;
  testing::HostTensor tables_host;
  testing::DeviceTensor tables_device;

  Layer(const Shape& s, int64_t num_slots_, int64_t max_positions, std::mt19937& rng)
      : shape(s), num_slots(num_slots_), max_blocks((max_positions + s.block_size - 1) / s.block_size),
        num_blocks(num_slots_ * max_blocks + 5),
        k_pool(testing::make_twin(s.dtype, {num_blocks, s.block_size, s.Hkv, s.hd}, rng)),
        v_pool(testing::make_twin(s.dtype, {num_blocks, s.block_size, s.Hkv, s.hd}, rng)) {
    std::vector<int32_t> ids(static_cast<size_t>(num_blocks));
    std::iota(ids.begin(), ids.end(), 0);
    std::shuffle(ids.begin(), ids.end(), rng);
    tables_host = testing::host_tensor(DType::i32, {num_slots, max_blocks + 3});
    int32_t* t = tables_host.tensor.ptr<int32_t>();
    size_t next = 0;
    for (int64_t slot = 0; slot < num_slots; ++slot)
      for (int64_t j = 0; j < max_blocks + 3; ++j) t[slot * (max_blocks + 3) + j] = j < max_blocks ? ids[next++] : -1;
    tables_device = testing::to_device(tables_host.tensor);
  }

  PagedKv view(bool gpu) const {
    const Tensor& tables = gpu ? tables_device.tensor : tables_host.tensor;
    return {gpu ? k_pool.gpu() : k_pool.cpu(), gpu ? v_pool.gpu() : v_pool.cpu(),
            testing::columns_of(tables, 0, max_blocks)};
  }
};

// One packed step: rows of [q | k | v | 5 slack] (strided windows, like a fused qkv projection), out as
// columns [1, 1 + Hq*hd) of a poisoned [T, Hq*hd + 3] buffer, or aliasing q. Start positions live on
// the device behind two junk entries.
struct Step {
  DeviceBatch batch;
  std::vector<int64_t> starts;
  Buffer starts_device;
  int64_t q_width = 0, kv_width = 0;
  Twin act, out_buffer;
  bool out_aliases_q = false;

  void add(int64_t length, int32_t slot, int64_t start) {
    batch.add(length, slot, start > 0);
    starts.push_back(start);
  }

  // After the adds: random activations, the output buffer, every device mirror.
  void build(const Shape& s, std::mt19937& rng) {
    q_width = s.Hq * s.hd;
    kv_width = s.Hkv * s.hd;
    act = testing::make_twin(DType::f32, {batch.num_tokens(), q_width + 2 * kv_width + 5}, rng);
    out_buffer = testing::make_output({batch.num_tokens(), q_width + 3}, rng);
    batch.upload();
    std::vector<int64_t> padded = {-5, 1 << 20};
    padded.insert(padded.end(), starts.begin(), starts.end());
    starts_device = Buffer(padded.size() * sizeof(int64_t), Device::cuda);
    cuda::copy(starts_device.data(), padded.data(), padded.size() * sizeof(int64_t));
  }
  // Rewrites the device start positions in place (same address: what a replayed graph reads).
  void upload_starts() {
    testing::gpu()->synchronize();
    cuda::copy(static_cast<int64_t*>(starts_device.data()) + 2, starts.data(), starts.size() * sizeof(int64_t));
  }

  PagedAttentionInputs inputs(bool gpu) const {
    const Tensor& a = gpu ? act.gpu() : act.cpu();
    return {testing::columns_of(a, 0, q_width), testing::columns_of(a, q_width, kv_width),
            testing::columns_of(a, q_width + kv_width, kv_width)};
  }
  Tensor out(bool gpu) const {
    if (out_aliases_q) return inputs(gpu).q;
    return testing::columns_of(gpu ? out_buffer.gpu() : out_buffer.cpu(), 1, q_width);
  }
  kernels::VarlenBatch varlen(bool gpu) const { return gpu ? batch.device_view() : batch.host_view(); }
  Mirrored<int64_t> start_positions(bool gpu) const {
    return {std::span<const int64_t>(starts), gpu ? static_cast<const int64_t*>(starts_device.data()) + 2 : nullptr};
  }
};

void run_gpu(const Shape& s, const Layer& layer, const Step& step) {
  kernels::paged_attention(params_of(s), step.varlen(true), step.start_positions(true), step.inputs(true),
                           layer.view(true), step.out(true), testing::gpu_exec());
}

void run_cpu(const Shape& s, const Layer& layer, const Step& step) {
  kernels::paged_attention(params_of(s), step.varlen(false), step.start_positions(false), step.inputs(false),
                           layer.view(false), step.out(false), cpu_exec());
}

// Both twins on equal inputs; outputs close, pools identical.
void run_and_compare(const Shape& s, Layer& layer, Step& step, double tolerance = kTolerance) {
  kernels::check_paged_attention(params_of(s), step.varlen(true), step.starts, step.inputs(true), layer.view(true),
                                 step.out(true));
  kernels::check_paged_attention(params_of(s), step.varlen(false), step.starts, step.inputs(false), layer.view(false),
                                 step.out(false));
  run_cpu(s, layer, step);
  run_gpu(s, layer, step);
  if (step.out_aliases_q)
    testing::expect_close(step.act, tolerance, "out (aliasing q), k, v");
  else
    testing::expect_close(step.out_buffer, tolerance, "out");
  testing::expect_identical(layer.k_pool, "k_pool");
  testing::expect_identical(layer.v_pool, "v_pool");
}

// GQA ratios 1, 4, 8 x head_dim 64, 128 x both pool dtypes.
std::vector<Shape> main_shapes() {
  std::vector<Shape> shapes;
  for (DType dtype : {DType::f32, DType::bf16})
    for (int64_t hd : {64, 128})
      for (int64_t ratio : {1, 4, 8}) shapes.push_back({ratio * 2, 2, hd, dtype});
  return shapes;
}

TEST(CudaPagedAttention, PrefillMatchesCpu) {
  STRATA_REQUIRE_GPU();
  for (int64_t window : {0, 100})
    for (Shape s : main_shapes()) {
      s.window = window;
      SCOPED_TRACE(describe(s));
      std::mt19937 rng(static_cast<uint32_t>(s.Hq * 131 + s.hd + window));
      Layer layer(s, 10, 512, rng);
      Step step;
      step.add(17, 4, 0);     // fresh prefill
      step.add(1, 0, 0);      // a one-token sequence (the decode kernel) in a prefill batch
      step.add(300, 7, 0);    // fresh, many query tiles
      step.add(0, 2, 33);     // empty: nothing stored, no rows
      step.add(17, 1, 40);    // continues a cached prefix
      step.add(5, -1, 0);     // padding: zero rows, nothing stored
      step.add(300, 9, 129);  // a long prefix and a long chunk
      step.add(1, 3, 77);     // a decode row
      step.add(9, 5, 16);     // just past the decode kernel's limit, on a block boundary
      step.build(s, rng);
      run_and_compare(s, layer, step);
    }
}

TEST(CudaPagedAttention, PrefillWithOutAliasingQ) {
  STRATA_REQUIRE_GPU();
  for (DType dtype : {DType::f32, DType::bf16}) {
    const Shape s{8, 2, 128, dtype, 0};
    SCOPED_TRACE(describe(s));
    std::mt19937 rng(7);
    Layer layer(s, 4, 256, rng);
    Step step;
    step.out_aliases_q = true;  // what the model does
    step.add(70, 2, 0);
    step.add(1, 0, 12);
    step.add(4, 3, 30);
    step.add(65, 1, 63);
    step.build(s, rng);
    run_and_compare(s, layer, step);
  }
}

TEST(CudaPagedAttention, DecodeMatchesCpu) {
  STRATA_REQUIRE_GPU();
  for (int64_t window : {0, 256})
    for (Shape s : main_shapes()) {
      s.window = window;
      SCOPED_TRACE(describe(s));
      std::mt19937 rng(static_cast<uint32_t>(1000 + s.Hq * 131 + s.hd + window));
      Layer layer(s, 6, 6000, rng);  // capacity well past the longest context: most splits are empty
      Step step;
      step.add(1, 3, 0);     // context 1
      step.add(1, 0, 62);    // 63
      step.add(1, 5, 999);   // 1000
      step.add(1, -1, 500);  // padding
      step.add(1, 1, 4999);  // 5000
      step.build(s, rng);
      run_and_compare(s, layer, step);
    }
}

TEST(CudaPagedAttention, DecodeBatchOneLongContextAndOutAliasingQ) {
  STRATA_REQUIRE_GPU();
  for (DType dtype : {DType::f32, DType::bf16})
    for (int64_t start : {0, 63, 64, 4999, 8191}) {
      const Shape s{32, 8, 128, dtype};
      SCOPED_TRACE(describe(s) + " start=" + std::to_string(start));
      std::mt19937 rng(static_cast<uint32_t>(start + 3));
      Layer layer(s, 2, 8192, rng);
      Step step;
      step.out_aliases_q = start % 2 == 1;
      step.add(1, 1, start);
      step.build(s, rng);
      run_and_compare(s, layer, step);
    }
}

TEST(CudaPagedAttention, DecodeBatch64) {
  STRATA_REQUIRE_GPU();
  for (DType dtype : {DType::f32, DType::bf16}) {
    const Shape s{32, 8, 128, dtype};
    SCOPED_TRACE(describe(s));
    std::mt19937 rng(64);
    Layer layer(s, 70, 1100, rng);
    Step step;
    std::uniform_int_distribution<int64_t> context(0, 1099);
    std::vector<int32_t> slots(70);
    std::iota(slots.begin(), slots.end(), 0);
    std::shuffle(slots.begin(), slots.end(), rng);
    for (int i = 0; i < 64; ++i) step.add(1, slots[size_t(i)], context(rng));
    step.build(s, rng);
    run_and_compare(s, layer, step);
  }
}

TEST(CudaPagedAttention, VerifyMatchesCpu) {
  STRATA_REQUIRE_GPU();
  for (int64_t window : {0, 3, 64})
    for (Shape s : main_shapes()) {
      s.window = window;
      SCOPED_TRACE(describe(s));
      std::mt19937 rng(static_cast<uint32_t>(2000 + s.Hq * 131 + s.hd + window));
      Layer layer(s, 8, 2100, rng);
      Step step;
      step.add(4, 6, 5);     // 1 + 3 drafts over a short prefix
      step.add(4, 2, 100);
      step.add(4, 0, 2000);
      step.add(2, 7, 62);    // across a block boundary
      step.add(8, 1, 1);     // the decode kernel's longest
      step.add(4, -1, 9);    // padding
      step.add(9, 4, 300);   // the prefill kernel's shortest
      step.build(s, rng);
      run_and_compare(s, layer, step);
    }
}

TEST(CudaPagedAttention, OddHeadDimsAndWideGroups) {
  STRATA_REQUIRE_GPU();
  // 17 and 36 (bf16) take the scalar tile copy (no 16-byte pieces); 80 uses part of the 128 kernel; 256 the
  // largest; 64 q heads per kv head span 4 row chunks per token in the decode kernel.
  const Shape shapes[] = {{3, 1, 17, DType::f32},   {6, 3, 36, DType::bf16}, {4, 2, 80, DType::f32},
                          {4, 2, 80, DType::bf16},  {4, 2, 256, DType::f32}, {8, 2, 256, DType::bf16, 50},
                          {64, 1, 64, DType::f32},  {64, 1, 128, DType::bf16, 20}, {5, 5, 17, DType::bf16, 7}};
  for (const Shape& s : shapes) {
    SCOPED_TRACE(describe(s));
    std::mt19937 rng(static_cast<uint32_t>(s.Hq * 7 + s.hd));
    Layer layer(s, 6, 1200, rng);
    Step step;
    step.add(1, 2, 0);
    step.add(1, 5, 1100);
    step.add(4, 0, 33);
    step.add(100, 3, 0);
    step.add(40, 1, 70);
    step.build(s, rng);
    run_and_compare(s, layer, step);
  }
}

TEST(CudaPagedAttention, BlockSizesAndExplicitScale) {
  STRATA_REQUIRE_GPU();
  for (int64_t block_size : {1, 7, 32, 64})
    for (DType dtype : {DType::f32, DType::bf16}) {
      const Shape s{8, 2, 64, dtype, block_size == 7 ? 30 : 0, block_size, block_size == 32 ? 0.3f : 0.0f};
      SCOPED_TRACE(describe(s));
      std::mt19937 rng(static_cast<uint32_t>(block_size));
      Layer layer(s, 4, 800, rng);
      Step step;
      step.add(1, 3, 700);
      step.add(3, 0, 13);
      step.add(50, 2, 0);
      step.add(33, 1, 64);
      step.build(s, rng);
      run_and_compare(s, layer, step);
    }
}

TEST(CudaPagedAttention, ChunkedPrefillThenDecodeChainMatchesCpu) {
  STRATA_REQUIRE_GPU();
  // Later steps read what earlier GPU steps stored: the pools must stay identical along the chain.
  for (DType dtype : {DType::f32, DType::bf16}) {
    const Shape s{16, 4, 128, dtype, 0};
    SCOPED_TRACE(describe(s));
    std::mt19937 rng(99);
    Layer layer(s, 3, 1024, rng);
    int64_t position[2] = {0, 0};
    const int64_t lengths[][2] = {{100, 37}, {100, 1}, {1, 64}, {1, 1}, {4, 1}, {1, 9}};
    for (const auto& step_lengths : lengths) {
      Step step;
      step.add(step_lengths[0], 2, position[0]);
      step.add(step_lengths[1], 0, position[1]);
      step.build(s, rng);
      run_and_compare(s, layer, step);
      position[0] += step_lengths[0];
      position[1] += step_lengths[1];
    }
  }
}

TEST(CudaPagedAttention, EmptyCallsTouchNothing) {
  STRATA_REQUIRE_GPU();
  const Shape s{4, 2, 64, DType::f32};
  std::mt19937 rng(5);
  Layer layer(s, 3, 64, rng);
  for (int sequences : {0, 3}) {
    Step step;
    for (int i = 0; i < sequences; ++i) step.add(0, i, 10);
    step.build(s, rng);
    run_and_compare(s, layer, step);
  }
}

TEST(CudaPagedAttention, RefusesCallsItCannotRun) {
  STRATA_REQUIRE_GPU();
  const Shape s{4, 2, 64, DType::f32};
  std::mt19937 rng(6);
  Layer layer(s, 3, 64, rng);
  Step step;
  step.add(3, 1, 5);
  step.build(s, rng);
  // No device mirrors of the batch or of the start positions.
  EXPECT_THROW(kernels::paged_attention(params_of(s), step.varlen(false), step.start_positions(true), step.inputs(true),
                                        layer.view(true), step.out(true), testing::gpu_exec()),
               Error);
  EXPECT_THROW(kernels::paged_attention(params_of(s), step.varlen(true), step.start_positions(false), step.inputs(true),
                                        layer.view(true), step.out(true), testing::gpu_exec()),
               Error);
  // Operands the CPU refuses too: an f16 pool, a too-wide head, a start position past the table.
  PagedKv f16 = layer.view(true);
  f16.k_pool.dtype = f16.v_pool.dtype = DType::f16;
  EXPECT_THROW(kernels::paged_attention(params_of(s), step.varlen(true), step.start_positions(true), step.inputs(true),
                                        f16, step.out(true), testing::gpu_exec()),
               Error);
  PagedAttentionParams wide = params_of(s);
  wide.head_dim = 512;
  EXPECT_THROW(kernels::paged_attention(wide, step.varlen(true), step.start_positions(true), step.inputs(true),
                                        layer.view(true), step.out(true), testing::gpu_exec()),
               Error);
  step.starts[0] = 63;
  EXPECT_THROW(kernels::paged_attention(params_of(s), step.varlen(true), step.start_positions(true), step.inputs(true),
                                        layer.view(true), step.out(true), testing::gpu_exec()),
               Error);
  // A CPU tensor in a CUDA call.
  EXPECT_THROW(kernels::paged_attention(params_of(s), step.varlen(true), step.start_positions(true), step.inputs(false),
                                        layer.view(true), step.out(true), testing::gpu_exec()),
               Error);
}

// One decode call captured into a CUDA graph at the first contexts, then replayed while every context
// grows one token a step (new q/k/v rows and start positions written in place on the device): each
// replay equals a fresh eager call bit for bit and the CPU twin within tolerance. The contexts cross
// block, 64-key tile and split boundaries along the way.
void graph_replay_case(const Shape& s, const std::vector<int64_t>& first_starts, int64_t capacity) {
  SCOPED_TRACE(describe(s));
  std::mt19937 rng(static_cast<uint32_t>(first_starts.size() * 17 + s.hd));
  const int64_t B = static_cast<int64_t>(first_starts.size());
  Layer layer(s, B + 1, capacity, rng);
  Step step;
  for (int64_t i = 0; i < B; ++i) step.add(1, static_cast<int32_t>(B - i), first_starts[size_t(i)]);
  step.build(s, rng);
  // The eager step at this shape first (opts the kernels into their shared memory, sizes the scratch).
  run_and_compare(s, layer, step);

  CudaGraph graph;
  graph.capture(*testing::gpu(), [&] { run_gpu(s, layer, step); });
  ASSERT_FALSE(graph.empty());

  const size_t out_bytes = static_cast<size_t>(step.batch.num_tokens() * (step.q_width + 3)) * sizeof(float);
  for (int grow = 1; grow <= 6; ++grow) {
    SCOPED_TRACE("step " + std::to_string(grow));
    for (int64_t& start : step.starts) ++start;
    step.upload_starts();
    std::normal_distribution<float> normal(0.0f, 1.0f);
    float* rows = step.act.host.tensor.ptr<float>();
    for (int64_t i = 0; i < step.act.host.tensor.numel(); ++i) rows[i] = normal(rng);
    testing::reupload(step.act);

    graph.replay(*testing::gpu());
    const testing::HostTensor replayed = step.out_buffer.gpu_result();
    // A fresh eager call on the same inputs (it stores the same rows again) and the CPU twin.
    run_cpu(s, layer, step);
    run_gpu(s, layer, step);
    const testing::HostTensor eager = step.out_buffer.gpu_result();
    EXPECT_EQ(std::memcmp(replayed.tensor.data, eager.tensor.data, out_bytes), 0) << "replay differs from eager";
    testing::expect_close(step.out_buffer, kTolerance, "out");
    testing::expect_identical(layer.k_pool, "k_pool");
    testing::expect_identical(layer.v_pool, "v_pool");
  }
}

TEST(CudaPagedAttention, CapturedDecodeReplaysAtGrownContexts) {
  STRATA_REQUIRE_GPU();
  graph_replay_case({16, 4, 128, DType::f32}, {0, 61, 1020, 4093}, 4200);
  graph_replay_case({16, 2, 64, DType::bf16, 64}, {13, 62, 126, 3000}, 3100);
  graph_replay_case({32, 8, 128, DType::f32}, {4990}, 8192);  // batch 1: many splits
  graph_replay_case({8, 8, 128, DType::bf16}, {0}, 16);      // one block of capacity, one split
}

}  // namespace
}  // namespace strata
