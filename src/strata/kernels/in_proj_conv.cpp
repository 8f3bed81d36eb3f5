#include "strata/kernels/in_proj_conv.h"

#include "strata/core/error.h"
#include "strata/kernels/norm_gemm.h"
#if STRATA_HAVE_CUDA
#include "strata/kernels/cuda/gemm.h"
#endif

namespace strata::kernels {

void in_proj_conv_decode(const Tensor& x, const InProjNorm* norm, const Tensor& weight, Tensor& y,
                         const GemmParams& params, const CausalConv1dParams& conv, int64_t col0,
                         const Tensor& conv_weight, const Tensor& conv_bias, const VarlenBatch& batch,
                         const Tensor& conv_state, const Tensor& conv_out, const Exec& exec) {
  if (batch.num_tokens() != batch.num_sequences())
    fail("in_proj_conv_decode: {} tokens in {} sequences; the fused front takes one token per sequence",
         batch.num_tokens(), batch.num_sequences());
  [[maybe_unused]] const bool gpu = exec.device() == Device::cuda;
#if STRATA_HAVE_CUDA
  const cuda::FusedConv fused{.conv = conv, .col0 = col0, .weight = &conv_weight, .bias = &conv_bias,
                              .batch = &batch, .state = &conv_state, .out = &conv_out};
#endif
  // Fused as far as the GPU takes it: norm + GEMM + conv (with fused norms on), else a norm kernel and
  // GEMM + conv; what does not fuse runs exactly as rms_norm_gemm (or gemm) and the conv would.
  const Tensor* input = &x;
  if (norm != nullptr) {
#if STRATA_HAVE_CUDA
    if (gpu && cuda::fused_norm_enabled()) {
      if (cuda::gemm_front(x, norm->weight, norm->eps, weight, y, params, fused, exec)) return;
      rms_norm_gemm({.eps = norm->eps}, x, *norm->weight, norm->normed, weight, y, params, exec);
      causal_conv1d_decode(conv, y.columns(col0, conv.conv_dim), conv_weight, conv_bias, batch, conv_state,
                           Tensor{}, conv_out, exec);
      return;
    }
#endif
    rms_norm({.eps = norm->eps}, x, *norm->weight, norm->normed, exec);
    input = &norm->normed;
  }
#if STRATA_HAVE_CUDA
  if (gpu && cuda::gemm_front(*input, nullptr, 0.0f, weight, y, params, fused, exec)) return;
#endif
  gemm(*input, weight, y, params, exec);
  causal_conv1d_decode(conv, y.columns(col0, conv.conv_dim), conv_weight, conv_bias, batch, conv_state,
                       Tensor{}, conv_out, exec);
}

}  // namespace strata::kernels
