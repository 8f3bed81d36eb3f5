// Phase (a) of paged attention: every new token's k and v rows go to their positions in the slot's KV
// blocks (bf16 pools round to nearest even like the CPU), and rows of padding sequences (slot < 0) get
// zero outputs. One block per token; its own launch, so the attention kernels after it see every store.
#include <cuda_runtime.h>

#include "strata/core/cuda_runtime.h"
#include "strata/kernels/cuda/attention_args.h"
#include "strata/kernels/cuda/attention_device.cuh"
#include "strata/kernels/cuda/launch.cuh"

namespace strata::kernels::cuda {
namespace {

using namespace attention_detail;

constexpr int kStoreThreads = 128;

template <typename KvT>
__global__ void __launch_bounds__(kStoreThreads) store_kernel(AttentionArgs a) {
  enter_kernel();  // launch.cuh: before any global memory access
  const int64_t t = blockIdx.x;
  // The sequence holding row t: the last i with begin(i) <= t (empty sequences before it share its
  // begin and are skipped by taking the last).
  int lo = 0, hi = a.num_sequences - 1;
  while (lo < hi) {
    const int mid = (lo + hi + 1) / 2;
    if (a.cu_seqlens[mid] - a.row_offset <= t) lo = mid; else hi = mid - 1;
  }
  const Sequence s = read_sequence(a, lo);
  if (s.slot < 0) {
    float* out = a.out + t * a.out_stride;
    for (int c = threadIdx.x; c < a.n_heads * a.head_dim; c += blockDim.x) out[c] = 0.0f;
    return;
  }
  const int64_t position = s.start + (t - s.begin);
  const int64_t block = a.block_tables[static_cast<int64_t>(s.slot) * a.table_stride + position / a.block_size];
  const int width = a.n_kv_heads * a.head_dim;
  const int64_t row = (block * a.block_size + position % a.block_size) * width;
  KvT* k_pool = static_cast<KvT*>(a.k_pool) + row;
  KvT* v_pool = static_cast<KvT*>(a.v_pool) + row;
  const float* k = a.k + t * a.k_stride;
  const float* v = a.v + t * a.v_stride;
  for (int c = threadIdx.x; c < width; c += blockDim.x) {
    store_element(k_pool + c, k[c]);
    store_element(v_pool + c, v[c]);
  }
}

}  // namespace

void launch_store(const AttentionArgs& args, void* stream) {
  if (args.num_tokens == 0) return;
  const dim3 grid(static_cast<unsigned>(args.num_tokens));
  auto s = static_cast<cudaStream_t>(stream);
  if (args.pool_bf16)
    launch_kernel(store_kernel<uint16_t>, grid, kStoreThreads, 0, s, args);
  else
    launch_kernel(store_kernel<float>, grid, kStoreThreads, 0, s, args);
  strata::cuda::check_last_error("paged_attention (store)");
}

}  // namespace strata::kernels::cuda
