// Row gathers on CUDA: out[t, :] = f32(table[index[t], :]), a block per output row t. The index type
// (i32 token ids, i64 row indices) and the table's storage are template arguments; the vector path moves
// four elements per thread per access when the width, the row strides and both base pointers allow it.
#include "strata/kernels/cuda/embedding.h"

#include <cuda_runtime.h>

#include <algorithm>

#include "strata/core/cuda_context.h"
#include "strata/kernels/cuda/widen.cuh"
#include "strata/kernels/cuda/launch.cuh"

namespace strata::kernels::cuda {
namespace {

constexpr int kMaxThreads = 256;

struct GatherArgs {
  const void* table = nullptr;
  int64_t table_stride = 0;  // elements between table rows
  const void* index = nullptr;
  float* out = nullptr;
  int64_t out_stride = 0;
  int64_t width = 0;
};

template <typename Tag, typename Index, int V>
__global__ void __launch_bounds__(kMaxThreads) gather_kernel(GatherArgs a) {
  enter_kernel();  // launch.cuh: before any global memory access
  const int64_t t = blockIdx.x;
  const int64_t row = static_cast<int64_t>(static_cast<const Index*>(a.index)[t]);
  const auto* src = static_cast<const typename Tag::Element*>(a.table) + row * a.table_stride;
  float* dst = a.out + t * a.out_stride;
  const int64_t step = static_cast<int64_t>(blockDim.x) * V;
  for (int64_t c = static_cast<int64_t>(threadIdx.x) * V; c < a.width; c += step) {
    if constexpr (V == 4)
      *reinterpret_cast<float4*>(dst + c) = widen::load4<Tag>(src + c);  // width % 4 == 0: c+3 < width
    else
      dst[c] = widen::load1<Tag>(src + c);
  }
}

template <typename Tag, typename Index>
void launch_gather(const GatherArgs& a, int64_t rows, cudaStream_t stream, const char* what) {
  if (rows <= 0 || a.width <= 0) return;
  constexpr size_t kElement = sizeof(typename Tag::Element);
  const bool vector = a.width % 4 == 0 && a.table_stride % 4 == 0 && a.out_stride % 4 == 0 &&
                      widen::aligned(a.table, 4 * kElement) && widen::aligned(a.out, 16);
  const int64_t per_thread = vector ? 4 : 1;
  // Enough whole warps to cover the row once (short rows do not waste a 256-thread block).
  const int64_t lanes = (a.width + per_thread - 1) / per_thread;
  const int threads = static_cast<int>(std::min<int64_t>(kMaxThreads, (lanes + 31) / 32 * 32));
  const dim3 grid(static_cast<unsigned>(rows));
  if (vector)
    launch_kernel(gather_kernel<Tag, Index, 4>, grid, threads, 0, stream, a);
  else
    launch_kernel(gather_kernel<Tag, Index, 1>, grid, threads, 0, stream, a);
  strata::cuda::check_last_error(what);
}

}  // namespace

void embedding_gather(const Tensor& table, const Tensor& token_ids, const Tensor& out, const Exec& exec) {
  GatherArgs a;
  a.table = table.data;
  a.table_stride = table.stride(0);
  a.index = token_ids.data;
  a.out = out.ptr<float>();
  a.out_stride = out.stride(0);
  a.width = out.size(1);
  const int64_t tokens = out.size(0);
  const auto stream = static_cast<cudaStream_t>(exec.cuda().stream());
  switch (table.dtype) {
    case DType::bf16: return launch_gather<widen::Bf16, int32_t>(a, tokens, stream, "embedding_gather");
    case DType::f16: return launch_gather<widen::F16, int32_t>(a, tokens, stream, "embedding_gather");
    default: return launch_gather<widen::F32, int32_t>(a, tokens, stream, "embedding_gather");  // f32 (checked)
  }
}

void gather_rows(const Tensor& src, const Tensor& rows, const Tensor& out, const Exec& exec) {
  GatherArgs a;
  a.table = src.data;
  a.table_stride = src.stride(0);
  a.index = rows.data;
  a.out = out.ptr<float>();
  a.out_stride = out.stride(0);
  a.width = out.size(1);
  launch_gather<widen::F32, int64_t>(a, out.size(0), static_cast<cudaStream_t>(exec.cuda().stream()),
                                     "gather_rows");
}

}  // namespace strata::kernels::cuda
