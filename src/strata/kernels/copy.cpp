#include "strata/kernels/copy.h"

#include "strata/core/error.h"
#include "strata/kernels/cpu/copy.h"
#include "strata/kernels/dispatch.h"
#if STRATA_HAVE_CUDA
#include "strata/kernels/cuda/copy.h"
#endif

namespace strata::kernels {
namespace {

// What the CPU's convert_to_f32 checks (and the header promises), for CUDA calls: shapes and dtypes only.
[[maybe_unused]] void require_copy(const Tensor& src, const Tensor& dst) {
  if (src.dtype != DType::f32 && src.dtype != DType::bf16 && src.dtype != DType::f16)
    fail("copy_to_f32: src is {}, expected f32, bf16 or f16", src.describe());
  if (dst.dtype != DType::f32) fail("copy_to_f32: dst is {}, expected f32", dst.describe());
  if (!src.is_contiguous() || !dst.is_contiguous())
    fail("copy_to_f32: src {} and dst {} must both be contiguous", src.describe(), dst.describe());
  if (src.numel() != dst.numel())
    fail("copy_to_f32: src {} has {} elements, dst {} has {}", src.describe(), src.numel(), dst.describe(), dst.numel());
}

}  // namespace

void copy_to_f32(const Tensor& src, const Tensor& dst, const Exec& exec) {
  if (detail::device_of("copy_to_f32", exec, {&src, &dst}) == Device::cuda) {
#if STRATA_HAVE_CUDA
    require_copy(src, dst);
    return cuda::copy_to_f32(src, dst, exec);
#endif
  }
  cpu::copy_to_f32(src, dst);
}

}  // namespace strata::kernels
