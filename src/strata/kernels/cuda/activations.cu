// FFN activations on CUDA: one row_map launch per call. Differences from the CPU twin are only in expf /
// erff's last bit (and the CPU's AVX-512 exp polynomial for SiLU), about 1e-7 relative.
#include "strata/kernels/cuda/activations.h"

#include <cuda_runtime.h>

#include "strata/core/cuda_context.h"
#include "strata/kernels/cuda/row_map.cuh"

namespace strata::kernels::cuda {
namespace {

constexpr float kInvSqrt2 = 0.70710678118654752f;

struct Relu2 {
  static constexpr bool kReadsOut = true, kReadsIn = false;
  __device__ float operator()(float x, float, int64_t) const {
    const float r = x < 0.0f ? 0.0f : x;  // a comparison, so NaN propagates as torch.relu does
    return r * r;
  }
};

struct Gelu {
  static constexpr bool kReadsOut = true, kReadsIn = false;
  __device__ float operator()(float x, float, int64_t) const { return 0.5f * x * (1.0f + erff(x * kInvSqrt2)); }
};

// out = h (the up projection), in = gate.
struct SiluGated {
  static constexpr bool kReadsOut = true, kReadsIn = true;
  __device__ float operator()(float up, float gate, int64_t) const { return gate / (1.0f + expf(-gate)) * up; }
};

struct GeluGated {
  static constexpr bool kReadsOut = true, kReadsIn = true;
  __device__ float operator()(float up, float gate, int64_t) const {
    return 0.5f * gate * (1.0f + erff(gate * kInvSqrt2)) * up;
  }
};

}  // namespace

void ffn_activation(FfnActivation activation, const Tensor& h, const Tensor& gate, const Exec& exec) {
  row_map::RowArgs a;
  a.out = h.ptr<float>();
  a.out_stride = h.stride(0);
  a.rows = h.size(0);
  a.width = h.size(1);
  if (is_gated(activation)) {
    a.in = gate.ptr<const float>();
    a.in_stride = gate.stride(0);
  }
  const auto stream = static_cast<cudaStream_t>(exec.cuda().stream());
  switch (activation) {
    case FfnActivation::relu2: return row_map::launch(a, Relu2{}, stream, "ffn_activation (relu2)");
    case FfnActivation::gelu: return row_map::launch(a, Gelu{}, stream, "ffn_activation (gelu)");
    case FfnActivation::silu_gated: return row_map::launch(a, SiluGated{}, stream, "ffn_activation (silu_gated)");
    case FfnActivation::gelu_gated: return row_map::launch(a, GeluGated{}, stream, "ffn_activation (gelu_gated)");
  }
}

}  // namespace strata::kernels::cuda
