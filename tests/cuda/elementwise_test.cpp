// CUDA element-wise row updates (add_scaled, scale, copy_scaled, scale_columns) against their CPU twins:
// odd widths (1, 7, 33, 1000) that take the scalar path, widths that are multiples of 4 on aligned rows
// (the float4 path), column windows of wider buffers (strided rows; with an odd column offset the rows
// are misaligned and fall back to the scalar path), a single row, more rows than one grid.y (65535) and
// empty shapes. Whole buffers are compared, so a write outside the window shows. The CPU and GPU compute
// the same f32 expressions; only nvcc's fma in o + x·alpha may differ by one rounding.
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "cuda_test_support.h"
#include "mamba_test_support.h"
#include "strata/core/error.h"
#include "strata/kernels/elementwise.h"

namespace strata {
namespace {

using testing::columns_of;
using testing::Twin;

constexpr double kTolerance = 1e-6;

Exec cpu_exec() { return Exec(testing::host_pool()); }

// A [rows, width] window at column `col` of a [rows, width + col + pad] buffer on both sides.
struct Rows {
  Twin buffer;
  int64_t col, width;
  Rows(int64_t rows, int64_t width_, int64_t col_, int64_t pad, std::mt19937& rng)
      : buffer(testing::make_twin(DType::f32, {rows, width_ + col_ + pad}, rng)), col(col_), width(width_) {}
  Tensor cpu() const { return columns_of(buffer.cpu(), col, width); }
  Tensor gpu() const { return columns_of(buffer.gpu(), col, width); }
};

struct Shape {
  int64_t rows, width, col, pad;
};

// Scalar path (odd widths, misaligned windows) and vector path (width % 4 == 0, aligned rows).
const Shape kShapes[] = {
    {1, 1, 0, 0},    {5, 1, 0, 0},   {9, 7, 0, 0},    {9, 7, 3, 2},   {4, 33, 1, 5},  {3, 1000, 0, 0},
    {3, 1000, 1, 3}, {6, 1024, 0, 0}, {6, 1024, 4, 4}, {2, 4096, 0, 8}, {17, 12, 0, 4}, {17, 12, 2, 2},
    {17, 12, 0, 1},  // aligned first row, odd row stride: every other row misaligned, so the scalar path
};

// out and x in different layouts (one vector-friendly, one not).
TEST(CudaElementwise, MixedLayouts) {
  STRATA_REQUIRE_GPU();
  std::mt19937 rng(8);
  Rows out(9, 64, 0, 0, rng), x(9, 64, 1, 2, rng);
  kernels::add_scaled(out.cpu(), x.cpu(), -0.5f, cpu_exec());
  kernels::add_scaled(out.gpu(), x.gpu(), -0.5f, testing::gpu_exec());
  testing::expect_close(out.buffer, kTolerance, "add_scaled, mixed layouts");
  kernels::copy_scaled(x.cpu(), out.cpu(), 3.0f, cpu_exec());
  kernels::copy_scaled(x.gpu(), out.gpu(), 3.0f, testing::gpu_exec());
  testing::expect_identical(x.buffer, "copy_scaled, mixed layouts");
}

TEST(CudaElementwise, AddScaledMatchesCpu) {
  STRATA_REQUIRE_GPU();
  std::mt19937 rng(1);
  for (const Shape& s : kShapes) {
    Rows out(s.rows, s.width, s.col, s.pad, rng), x(s.rows, s.width, s.col, s.pad, rng);
    kernels::add_scaled(out.cpu(), x.cpu(), 0.37f, cpu_exec());
    kernels::add_scaled(out.gpu(), x.gpu(), 0.37f, testing::gpu_exec());
    testing::expect_close(out.buffer, kTolerance, "add_scaled out");
    testing::expect_identical(x.buffer, "add_scaled x (read only)");
  }
}

TEST(CudaElementwise, ScaleMatchesCpu) {
  STRATA_REQUIRE_GPU();
  std::mt19937 rng(2);
  for (const Shape& s : kShapes) {
    Rows x(s.rows, s.width, s.col, s.pad, rng);
    kernels::scale(x.cpu(), -1.75f, cpu_exec());
    kernels::scale(x.gpu(), -1.75f, testing::gpu_exec());
    testing::expect_identical(x.buffer, "scale");  // one multiply: exact on both sides
  }
}

TEST(CudaElementwise, CopyScaledMatchesCpu) {
  STRATA_REQUIRE_GPU();
  std::mt19937 rng(3);
  for (const Shape& s : kShapes) {
    Rows out(s.rows, s.width, s.col, s.pad, rng), x(s.rows, s.width, s.col, s.pad, rng);
    kernels::copy_scaled(out.cpu(), x.cpu(), 0.125f, cpu_exec());
    kernels::copy_scaled(out.gpu(), x.gpu(), 0.125f, testing::gpu_exec());
    testing::expect_identical(out.buffer, "copy_scaled out");
    testing::expect_identical(x.buffer, "copy_scaled x (read only)");
    // alpha = 1 is a plain copy (the shared blocks' concatenation).
    kernels::copy_scaled(out.cpu(), x.cpu(), 1.0f, cpu_exec());
    kernels::copy_scaled(out.gpu(), x.gpu(), 1.0f, testing::gpu_exec());
    testing::expect_identical(out.buffer, "copy_scaled out (alpha 1)");
  }
}

TEST(CudaElementwise, ScaleColumnsMatchesCpu) {
  STRATA_REQUIRE_GPU();
  std::mt19937 rng(4);
  for (const Shape& s : kShapes) {
    Rows x(s.rows, s.width, s.col, s.pad, rng);
    const Twin column_scale = testing::make_twin(DType::f32, {s.width}, rng, 2.0f);
    kernels::scale_columns(x.cpu(), column_scale.cpu(), cpu_exec());
    kernels::scale_columns(x.gpu(), column_scale.gpu(), testing::gpu_exec());
    testing::expect_identical(x.buffer, "scale_columns");
  }
}

// More rows than one grid.y covers: the row loop must take the rest.
TEST(CudaElementwise, ManyRowsBeyondOneGrid) {
  STRATA_REQUIRE_GPU();
  std::mt19937 rng(5);
  for (const int64_t width : {int64_t{3}, int64_t{8}}) {
    Rows out(70001, width, 0, 0, rng), x(70001, width, 0, 0, rng);
    kernels::add_scaled(out.cpu(), x.cpu(), 2.5f, cpu_exec());
    kernels::add_scaled(out.gpu(), x.gpu(), 2.5f, testing::gpu_exec());
    testing::expect_close(out.buffer, kTolerance, "add_scaled, 70001 rows");
    kernels::scale(x.cpu(), 3.0f, cpu_exec());
    kernels::scale(x.gpu(), 3.0f, testing::gpu_exec());
    testing::expect_identical(x.buffer, "scale, 70001 rows");
  }
}

TEST(CudaElementwise, EmptyShapesLaunchNothing) {
  STRATA_REQUIRE_GPU();
  std::mt19937 rng(6);
  const Twin empty_rows = testing::make_twin(DType::f32, {0, 16}, rng);
  const Twin empty_width = testing::make_twin(DType::f32, {4, 0}, rng);
  const Twin no_scale = testing::make_twin(DType::f32, {0}, rng);
  const Exec exec = testing::gpu_exec();
  for (const Twin* t : {&empty_rows, &empty_width}) {
    kernels::add_scaled(t->gpu(), t->gpu(), 1.0f, exec);
    kernels::scale(t->gpu(), 2.0f, exec);
    kernels::copy_scaled(t->gpu(), t->gpu(), 2.0f, exec);
  }
  kernels::scale_columns(empty_width.gpu(), no_scale.gpu(), exec);
  testing::gpu()->synchronize();
  EXPECT_NO_THROW(cuda::check_last_error("empty element-wise calls"));
}

TEST(CudaElementwise, MismatchedShapesAreRefused) {
  STRATA_REQUIRE_GPU();
  std::mt19937 rng(7);
  const Twin a = testing::make_twin(DType::f32, {4, 8}, rng), b = testing::make_twin(DType::f32, {4, 7}, rng);
  EXPECT_THROW(kernels::add_scaled(a.gpu(), b.gpu(), 1.0f, testing::gpu_exec()), Error);
  EXPECT_THROW(kernels::add_scaled(a.gpu(), b.cpu(), 1.0f, testing::gpu_exec()), Error);  // a host operand
}

}  // namespace
}  // namespace strata
