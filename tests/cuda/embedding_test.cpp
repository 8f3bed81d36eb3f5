// CUDA row gathers against their CPU twins, bit for bit (widening bf16/f16 is exact): embedding_gather
// from f32, bf16 and f16 tables, contiguous and with padded rows (row stride > width, aligned or not),
// widths 1, 7, 33, 1000 (scalar path) and 64, 1024, 4096 (vector path), repeated ids and the first and
// last row; gather_rows from a strided f32 source with repeated rows; empty gathers.
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "cuda_test_support.h"
#include "mamba_test_support.h"
#include "strata/core/error.h"
#include "strata/kernels/embedding.h"

namespace strata {
namespace {

using testing::Twin;

Exec cpu_exec() { return Exec(testing::host_pool()); }

// A [rows, stride] table of `dtype` holding random values, on both sides.
Twin make_table(DType dtype, int64_t rows, int64_t stride, std::mt19937& rng) {
  Twin twin;
  twin.host = testing::host_tensor(dtype, {rows, stride});
  std::normal_distribution<float> normal(0.0f, 1.0f);
  const int64_t n = rows * stride;
  for (int64_t i = 0; i < n; ++i) {
    const float v = normal(rng);
    if (dtype == DType::f32)
      twin.host.tensor.ptr<float>()[i] = v;
    else
      twin.host.tensor.ptr<uint16_t>()[i] = dtype == DType::bf16 ? f32_to_bf16(v) : f32_to_f16(v);
  }
  twin.device = testing::to_device(twin.host.tensor);
  return twin;
}

template <typename Index>
Twin make_indices(const std::vector<Index>& values, DType dtype) {
  Twin twin;
  twin.host = testing::host_tensor(dtype, {static_cast<int64_t>(values.size())});
  std::copy(values.begin(), values.end(), twin.host.tensor.ptr<Index>());
  twin.device = testing::to_device(twin.host.tensor);
  return twin;
}

// Ids covering the first and last rows, repeats, and random rows.
template <typename Index>
std::vector<Index> random_indices(int64_t count, int64_t rows, std::mt19937& rng) {
  std::uniform_int_distribution<int64_t> pick(0, rows - 1);
  std::vector<Index> ids;
  for (int64_t t = 0; t < count; ++t) ids.push_back(static_cast<Index>(pick(rng)));
  if (count > 0) ids[0] = 0;
  if (count > 1) ids[1] = static_cast<Index>(rows - 1);
  if (count > 3) ids[3] = ids[2];
  return ids;
}

struct TableShape {
  int64_t width, pad;  // row stride = width + pad
};

const TableShape kTables[] = {{1, 0}, {7, 0}, {7, 3}, {33, 0}, {33, 1}, {64, 0}, {64, 4},
                              {64, 1}, {1000, 0}, {1000, 2}, {1024, 0}, {4096, 0}, {4096, 8}};

TEST(CudaEmbedding, GatherMatchesCpuForEveryTableDtype) {
  STRATA_REQUIRE_GPU();
  std::mt19937 rng(21);
  constexpr int64_t kVocab = 50;
  for (const DType dtype : {DType::f32, DType::bf16, DType::f16})
    for (const TableShape& s : kTables)
      for (const int64_t tokens : {int64_t{1}, int64_t{5}, int64_t{37}}) {
        const Twin table_buffer = make_table(dtype, kVocab, s.width + s.pad, rng);
        const Tensor table_cpu = testing::columns_of(table_buffer.cpu(), 0, s.width);
        const Tensor table_gpu = testing::columns_of(table_buffer.gpu(), 0, s.width);
        const Twin ids = make_indices(random_indices<int32_t>(tokens, kVocab, rng), DType::i32);
        const Twin out = testing::make_output({tokens, s.width}, rng);
        kernels::embedding_gather(table_cpu, ids.cpu(), out.cpu(), cpu_exec());
        kernels::embedding_gather(table_gpu, ids.gpu(), out.gpu(), testing::gpu_exec());
        SCOPED_TRACE(::testing::Message() << dtype_name(dtype) << " width " << s.width << " pad " << s.pad
                                          << " tokens " << tokens);
        testing::expect_identical(out, "embedding_gather out");
      }
}

// A table window that starts one column in: misaligned rows, so the scalar path, for every dtype.
TEST(CudaEmbedding, GatherFromAColumnWindow) {
  STRATA_REQUIRE_GPU();
  std::mt19937 rng(22);
  for (const DType dtype : {DType::f32, DType::bf16, DType::f16}) {
    const Twin table_buffer = make_table(dtype, 20, 130, rng);
    const Tensor table_cpu = testing::columns_of(table_buffer.cpu(), 1, 128);
    const Tensor table_gpu = testing::columns_of(table_buffer.gpu(), 1, 128);
    const Twin ids = make_indices(random_indices<int32_t>(9, 20, rng), DType::i32);
    const Twin out = testing::make_output({9, 128}, rng);
    kernels::embedding_gather(table_cpu, ids.cpu(), out.cpu(), cpu_exec());
    kernels::embedding_gather(table_gpu, ids.gpu(), out.gpu(), testing::gpu_exec());
    testing::expect_identical(out, std::string(dtype_name(dtype)).c_str());
  }
}

TEST(CudaEmbedding, GatherRowsMatchesCpu) {
  STRATA_REQUIRE_GPU();
  std::mt19937 rng(23);
  for (const TableShape& s : kTables)
    for (const int64_t count : {int64_t{1}, int64_t{4}, int64_t{19}}) {
      const Twin src_buffer = make_table(DType::f32, 23, s.width + s.pad, rng);
      const Tensor src_cpu = testing::columns_of(src_buffer.cpu(), 0, s.width);
      const Tensor src_gpu = testing::columns_of(src_buffer.gpu(), 0, s.width);
      const Twin rows = make_indices(random_indices<int64_t>(count, 23, rng), DType::i64);
      const Twin out = testing::make_output({count, s.width}, rng);
      kernels::gather_rows(src_cpu, rows.cpu(), out.cpu(), cpu_exec());
      kernels::gather_rows(src_gpu, rows.gpu(), out.gpu(), testing::gpu_exec());
      SCOPED_TRACE(::testing::Message() << "width " << s.width << " pad " << s.pad << " count " << count);
      testing::expect_identical(out, "gather_rows out");
    }
}

// A table of more than 2^31 elements (600000 rows x 4096, 4.9 GB of bf16) read at its last row: a row
// offset computed in 32 bits would wrap and read the wrong row (or fault).
TEST(CudaEmbedding, GatherFromTheEndOfALargeTable) {
  STRATA_REQUIRE_GPU();
  constexpr int64_t kVocab = 600000, kWidth = 4096;
  const Buffer table(static_cast<size_t>(kVocab * kWidth) * 2, Device::cuda);  // zero-filled
  std::vector<uint16_t> row(kWidth);
  for (int64_t c = 0; c < kWidth; ++c) row[static_cast<size_t>(c)] = f32_to_bf16(static_cast<float>(c) - 7.0f);
  const int64_t last = kVocab - 1;
  cuda::copy(static_cast<uint16_t*>(table.data()) + last * kWidth, row.data(), row.size() * 2);
  const Twin ids = make_indices(std::vector<int32_t>{static_cast<int32_t>(last), 0}, DType::i32);
  const Buffer out(static_cast<size_t>(2 * kWidth) * sizeof(float), Device::cuda);
  const Tensor table_view = table.view(DType::bf16, {kVocab, kWidth});
  const Tensor out_view = out.view(DType::f32, {2, kWidth});
  kernels::embedding_gather(table_view, ids.gpu(), out_view, testing::gpu_exec());
  const std::vector<float> got = testing::device_floats(out_view);
  for (int64_t c = 0; c < kWidth; ++c) {
    ASSERT_EQ(got[static_cast<size_t>(c)], bf16_to_f32(row[static_cast<size_t>(c)])) << "column " << c;
    ASSERT_EQ(got[static_cast<size_t>(kWidth + c)], 0.0f) << "column " << c;
  }
}

TEST(CudaEmbedding, EmptyGathersLaunchNothing) {
  STRATA_REQUIRE_GPU();
  std::mt19937 rng(24);
  const Twin table = make_table(DType::bf16, 8, 16, rng), src = make_table(DType::f32, 8, 16, rng);
  const Twin no_ids = make_indices(std::vector<int32_t>{}, DType::i32);
  const Twin no_rows = make_indices(std::vector<int64_t>{}, DType::i64);
  const Twin out = testing::make_output({0, 16}, rng);
  kernels::embedding_gather(table.gpu(), no_ids.gpu(), out.gpu(), testing::gpu_exec());
  kernels::gather_rows(src.gpu(), no_rows.gpu(), out.gpu(), testing::gpu_exec());
  testing::gpu()->synchronize();
  EXPECT_NO_THROW(cuda::check_last_error("empty gathers"));
}

TEST(CudaEmbedding, WrongLayoutsAreRefused) {
  STRATA_REQUIRE_GPU();
  std::mt19937 rng(25);
  const Twin table = make_table(DType::bf16, 8, 16, rng);
  const Twin ids64 = make_indices(std::vector<int64_t>{1, 2}, DType::i64);
  const Twin ids32 = make_indices(std::vector<int32_t>{1, 2}, DType::i32);
  const Twin out = testing::make_output({2, 16}, rng), short_out = testing::make_output({2, 15}, rng);
  EXPECT_THROW(kernels::embedding_gather(table.gpu(), ids64.gpu(), out.gpu(), testing::gpu_exec()), Error);
  EXPECT_THROW(kernels::embedding_gather(table.gpu(), ids32.gpu(), short_out.gpu(), testing::gpu_exec()), Error);
  EXPECT_THROW(kernels::gather_rows(table.gpu(), ids64.gpu(), out.gpu(), testing::gpu_exec()), Error);  // bf16 src
}

}  // namespace
}  // namespace strata
