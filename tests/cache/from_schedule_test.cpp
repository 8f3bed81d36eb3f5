#include "strata/cache/from_schedule.h"

#include <gtest/gtest.h>

#include "strata/core/error.h"

namespace strata::cache {
namespace {

TEST(FromSchedule, OneStateShapePerMainMambaLayer) {
  const schedule::Schedule s = schedule::schedule_from_pattern("M*-MEM/M*");
  schedule::ModelDims dims;
  dims.mamba = {.n_heads = 8, .head_dim = 16, .state_size = 32, .n_groups = 2, .conv_kernel = 4, .chunk_size = 64};
  const StateCacheConfig c = state_cache_config(s, dims, 3, 2, "id", DType::bf16);
  ASSERT_EQ(c.layers.size(), 3u);  // the MTP depth's M holds no state here
  EXPECT_EQ(c.layers[0].conv_dim, 8 * 16 + 2 * 2 * 32);
  EXPECT_EQ(c.layers[0].state_dtype, DType::bf16);
  EXPECT_EQ(c.max_sequences, 3);
  EXPECT_EQ(attention_layer_count(s), 1);
  MambaStateCache cache(c);
  EXPECT_EQ(cache.bytes_per_sequence(), size_t(3) * ((8 * 16 + 128) * 3 + 8 * 16 * 32) * 2);
  dims.mamba.state_size = 0;
  EXPECT_THROW(state_cache_config(s, dims, 1, 0, "id"), Error);
}

}  // namespace
}  // namespace strata::cache
