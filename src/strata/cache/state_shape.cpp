#include "strata/cache/state_shape.h"

#include <fmt/format.h>

#include "strata/core/error.h"

namespace strata::cache {

std::string MambaStateShape::describe() const {
  return fmt::format("conv {}[{}, {}] ssm {}[{}, {}, {}]", dtype_name(conv_dtype), conv_kernel - 1, conv_dim,
                     dtype_name(state_dtype), n_heads, head_dim, state_size);
}

void validate(const MambaStateShape& shape, const std::string& what) {
  if (shape.conv_dim <= 0 || shape.n_heads <= 0 || shape.head_dim <= 0 || shape.state_size <= 0)
    fail("{}: state dimensions must be positive, got conv_dim={} heads={} head_dim={} state_size={}", what,
         shape.conv_dim, shape.n_heads, shape.head_dim, shape.state_size);
  if (shape.conv_kernel < 2)
    fail("{}: conv_kernel must be at least 2 (the conv state holds K-1 inputs), got {}", what, shape.conv_kernel);
  for (DType t : {shape.conv_dtype, shape.state_dtype})
    if (t != DType::f32 && t != DType::bf16 && t != DType::f16)
      fail("{}: state dtype must be f32, bf16 or f16, got {}", what, dtype_name(t));
}

}  // namespace strata::cache
