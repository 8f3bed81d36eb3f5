#include "strata/core/tensor.h"

#include <gtest/gtest.h>

#include "strata/core/error.h"

namespace strata {
namespace {

TEST(Tensor, ContiguousStridesIndexingAndSlices) {
  Buffer buffer(2 * 3 * 4 * sizeof(float));
  Tensor t = buffer.view(DType::f32, {2, 3, 4});
  EXPECT_EQ(t.stride(0), 12);
  EXPECT_EQ(t.stride(-1), 1);
  for (int i = 0; i < 24; ++i) t.ptr<float>()[i] = static_cast<float>(i);
  Tensor row = t[1];
  EXPECT_EQ(row.ndim, 2);
  EXPECT_EQ(row.ptr<float>()[0], 12.0f);
  Tensor rows = t.slice(1, 2);
  EXPECT_EQ(rows.size(0), 1);
  EXPECT_EQ(rows.ptr<float>()[5], 17.0f);
  EXPECT_EQ(t.reshape({6, 4}).size(0), 6);
  EXPECT_THROW(t.reshape({5, 4}), Error);
  EXPECT_THROW(buffer.view(DType::f32, {100}), Error);
  EXPECT_EQ(t.describe(), "f32[2, 3, 4]");
}

}  // namespace
}  // namespace strata
