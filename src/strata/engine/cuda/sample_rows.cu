// The device sampler's kernel: one block of 1024 threads per row, every step of Sampler::sample
// (sampler.cpp, sampling_filters.cpp, sampling_penalties.cpp) done on the row in place:
//   1. penalties, one thread per history entry (ids are unique, so no two threads touch one logit);
//   2. one pass: the first NaN / +inf (error), the maximum and the argmax (lowest id on ties);
//   3. one pass: Σ exp(logit - max) in double, the log-softmax normaliser;
//   4. greedy: the argmax; otherwise the draw (below);
//   5. the top `logprobs` alternatives: one block-wide argmax per rank, each below the previous one.
//
// How the draw reproduces the host's. Arithmetic first: scaled = logit * (1 / T) and the weights
// exp(scaled - max) use the host's exact float operations (its exp_nonpositive, with the fused
// multiply-adds GCC makes of it, written out as __fmaf_rn), so every weight is bit-identical. Masses are
// then summed as fixed-point integers (weight * 2^S, S chosen so a whole row fits 62 bits): exact and
// associative, so any summation order gives the same sums and every level of the search below agrees with
// every other. Against the host's double sums the difference is ~V * 2^-S ≈ 1e-8 of the row's mass, so a
// draw picks another token only when u lands that close to a cumulative boundary.
//
// Order: the host walks candidates in an order that depends on the filters, and the same u means the same
// token only in the same order.
//   - no top-k, no top-p ("dense"): index order over weights, min-p zeroing those below min_p;
//   - top-k (with or without top-p): rank order (scaled logit descending, id ascending), cut to k, to the
//     nucleus (renormalised over the top k), and to min-p;
//   - top-p alone: the host buckets tokens by 1/8 nat below the max; tokens in buckets before the one where
//     the nucleus ends come in index order, that boundary bucket's in rank order.
// Every candidate set above is a prefix of the rank order (the nucleus, top-k and min-p each keep the best
// tokens), so positions in it are found by radix selection over the 32-bit rank key of the scaled logit:
// four 8-bit digit levels, each a histogram of counts and fixed-point masses, descending to the token where
// the cumulative count (a rank) or mass (a target) is crossed; ties on the key (equal logits, equal
// weights) are resolved in index order. Index-order draws split the row into one contiguous chunk per
// thread and scan the chunk sums.
//
// No allocation, no host synchronisation; shared memory only (~8 KB).
#include "strata/engine/cuda/sample_rows.h"

#include <cuda_runtime.h>

#include <cstdint>

#include "strata/core/cuda_runtime.h"
#include "strata/kernels/cuda/launch.cuh"

namespace strata::engine::cuda {
namespace {

using u64 = unsigned long long;  // the type of 64-bit atomicAdd and shuffles

constexpr int kThreads = 1024;
constexpr int kWarps = kThreads / 32;
static_assert(kWarps == 32, "the block scans assume one warp can hold every warp's total");
constexpr unsigned kFullMask = 0xffffffffu;
constexpr int kDigitBins = 256;  // 8-bit radix digits, four levels for a 32-bit key
// top-p buckets, as sampling_filters.cpp: 1/8 nat wide, 320 of them, then the tail bucket.
constexpr float kBucketsPerNat = 8.0f;
constexpr float kTailBucket = 320.0f;
constexpr int kBuckets = 321;

// ---- the host's arithmetic -------------------------------------------------------------------------

// sampling_math.h's exp_nonpositive, operation for operation as GCC compiles it (every a * b + c fused;
// x - n * c as fma(-n, c, x)), so device and host weights are the same floats.
__device__ __forceinline__ float exp_nonpositive(float x) {
  constexpr float kShifter = 12582912.0f;
  const float shifted = __fmaf_rn(x, 1.44269504088896341f, kShifter);
  const float n = __fsub_rn(shifted, kShifter);
  const float r = __fmaf_rn(-n, 1.42860682030941723212e-6f, __fmaf_rn(-n, 0.693145751953125f, x));
  float p = 1.0f / 5040.0f;
  p = __fmaf_rn(p, r, 1.0f / 720.0f);
  p = __fmaf_rn(p, r, 1.0f / 120.0f);
  p = __fmaf_rn(p, r, 1.0f / 24.0f);
  p = __fmaf_rn(p, r, 1.0f / 6.0f);
  p = __fmaf_rn(p, r, 0.5f);
  p = __fmaf_rn(p, r, 1.0f);
  p = __fmaf_rn(p, r, 1.0f);
  const uint32_t exponent = __float_as_uint(shifted) - __float_as_uint(kShifter);
  const float scale = __uint_as_float((exponent + 127u) << 23);
  const uint32_t keep = 0u - static_cast<uint32_t>(x >= -87.0f);
  return __uint_as_float(__float_as_uint(__fmul_rn(p, scale)) & keep);
}

// An unsigned key ordered like the float (no NaN here), -0 folded onto +0 because the host compares
// values and -0 == +0 there; larger key = ranked first.
__device__ __forceinline__ uint32_t rank_key(float v) {
  uint32_t bits = __float_as_uint(v);
  if (bits == 0x80000000u) bits = 0;
  return (bits & 0x80000000u) ? ~bits : (bits | 0x80000000u);
}

__device__ __forceinline__ float key_value(uint32_t key) {
  return __uint_as_float((key & 0x80000000u) ? (key & 0x7fffffffu) : ~key);
}

// Key and id in one integer, larger = earlier in rank order (higher key, then lower id); 0 is below every
// real token (key 0 would be a NaN).
__device__ __forceinline__ u64 ranked(uint32_t key, int index) {
  return (static_cast<u64>(key) << 32) | (0xffffffffu - static_cast<uint32_t>(index));
}
__device__ __forceinline__ int ranked_index(u64 r) { return static_cast<int>(0xffffffffu - static_cast<uint32_t>(r)); }

// ---- block-wide building blocks ----------------------------------------------------------------------

struct Sum {
  template <typename T>
  __device__ T operator()(T a, T b) const { return a + b; }
};
struct Max {
  template <typename T>
  __device__ T operator()(T a, T b) const { return a > b ? a : b; }
};
struct Min {
  template <typename T>
  __device__ T operator()(T a, T b) const { return a < b ? a : b; }
};

// Every thread gets the same result (each combines the warp totals in the same order).
template <typename T, typename Op>
__device__ T block_reduce(T value, Op op) {
  __shared__ T warp_values[kWarps];
#pragma unroll
  for (int offset = 16; offset > 0; offset >>= 1) value = op(value, __shfl_xor_sync(kFullMask, value, offset));
  const int warp = static_cast<int>(threadIdx.x) / 32, lane = static_cast<int>(threadIdx.x) % 32;
  if (lane == 0) warp_values[warp] = value;
  __syncthreads();
  T total = warp_values[0];
  for (int w = 1; w < kWarps; ++w) total = op(total, warp_values[w]);
  __syncthreads();  // warp_values is rewritten by the next reduction of this type
  return total;
}

__device__ __forceinline__ u64 warp_inclusive_scan(u64 value) {
  const int lane = static_cast<int>(threadIdx.x) % 32;
#pragma unroll
  for (int offset = 1; offset < 32; offset <<= 1) {
    const u64 up = __shfl_up_sync(kFullMask, value, offset);
    if (lane >= offset) value += up;
  }
  return value;
}

// The exclusive prefix sum over the block in thread order; `total` gets the block's sum.
__device__ u64 block_exclusive_scan(u64 value, u64& total) {
  __shared__ u64 warp_totals[kWarps];
  const int warp = static_cast<int>(threadIdx.x) / 32, lane = static_cast<int>(threadIdx.x) % 32;
  const u64 inclusive = warp_inclusive_scan(value);
  if (lane == 31) warp_totals[warp] = inclusive;
  __syncthreads();
  if (warp == 0) warp_totals[lane] = warp_inclusive_scan(warp_totals[lane]);
  __syncthreads();
  const u64 before = (warp == 0 ? 0ull : warp_totals[warp - 1]) + inclusive - value;
  total = warp_totals[kWarps - 1];
  __syncthreads();
  return before;
}

// The first index in index order whose inclusive cumulative weight exceeds `target`, -1 if the row's
// total does not (weight(i) is recomputed, so it must be a pure function of i). Each thread owns one
// contiguous chunk: chunk sums, one block scan, then the one thread whose chunk holds the target walks it.
template <typename Weight>
__device__ int index_select(int vocab, const Weight& weight, u64 target) {
  __shared__ int chosen;
  if (threadIdx.x == 0) chosen = -1;
  const int chunk = (vocab + kThreads - 1) / kThreads;
  const int begin = min(vocab, static_cast<int>(threadIdx.x) * chunk), end = min(vocab, begin + chunk);
  u64 local = 0;
  for (int i = begin; i < end; ++i) local += weight(i);
  u64 total;
  u64 mass = block_exclusive_scan(local, total);  // its barriers also order `chosen = -1` first
  if (mass <= target && target < mass + local) {
    for (int i = begin; i < end; ++i) {
      mass += weight(i);
      if (mass > target) {
        chosen = i;
        break;
      }
    }
  }
  __syncthreads();
  const int result = chosen;
  __syncthreads();  // every thread has read `chosen` before a later call resets it
  return result;
}

// ---- one row ---------------------------------------------------------------------------------------

// The row after penalties, seen through the temperature: scaled logits, their weights and fixed-point
// masses, computed on the fly (nothing vocabulary-sized is stored).
struct Row {
  const float* logits = nullptr;
  int vocab = 0;
  float inverse_temperature = 1.0f;
  float max_scaled = 0.0f;   // max of scaled(i), = max logit * (1 / T) since the product is monotone
  float fixed_scale = 1.0f;  // 2^S
  float min_p = 0.0f;

  __device__ float scaled(int i) const { return __fmul_rn(logits[i], inverse_temperature); }
  __device__ float weight_of(float s) const { return exp_nonpositive(__fsub_rn(s, max_scaled)); }
  __device__ u64 fixed(float w) const { return __float2ull_rz(__fmul_rn(w, fixed_scale)); }
  // sampling_filters.cpp's keep(): min-p relative to the max, whose weight is 1.
  __device__ bool keep(float w) const { return w > 0.0f && w >= min_p; }
};

// S = 62 - bit_width(vocab): a whole row of weights <= 1 sums below 2^62.
__device__ float fixed_scale_for(int vocab) {
  const int width = 32 - __clz(vocab);
  return __uint_as_float(static_cast<uint32_t>(62 - width + 127) << 23);
}

// A token found by rank_select: its key, its place among the tokens of that key (in index order), and
// what is ranked above all of them.
struct Selected {
  bool found = false;
  uint32_t key = 0;
  uint32_t tie = 0;
  uint32_t count_above = 0;
  u64 mass_above = 0;
  u64 weight = 0;  // each token of this key's fixed-point weight

  __device__ uint32_t rank() const { return count_above + tie; }
  __device__ u64 mass_through() const { return mass_above + static_cast<u64>(tie + 1) * weight; }
};

struct RadixShared {
  unsigned int counts[kDigitBins];
  u64 masses[kDigitBins];
  int found;
  int digit;
  unsigned int count_above;
  u64 mass_above;
  unsigned int bin_count;
  u64 bin_mass;
};

// The first token in rank order whose inclusive cumulative count (by_mass false: `target` is a 0-based
// rank) or mass (by_mass true) exceeds `target`. Four passes, one per 8-bit digit of the key, most
// significant first; at each level only tokens matching the digits chosen so far are counted.
__device__ Selected rank_select(const Row& row, bool by_mass, u64 target, RadixShared& sh) {
  uint32_t prefix = 0, mask = 0;
  uint32_t count_above = 0, bin_count = 0;
  u64 mass_above = 0, bin_mass = 0;
  Selected result;
  for (int level = 0; level < 4; ++level) {
    const int shift = 24 - 8 * level;
    for (int d = static_cast<int>(threadIdx.x); d < kDigitBins; d += kThreads) {
      sh.counts[d] = 0;
      sh.masses[d] = 0;
    }
    if (threadIdx.x == 0) sh.found = 0;
    __syncthreads();
    // Neighbouring tokens of one thread often share a digit: add runs, not tokens, to the bins.
    int run_digit = -1;
    uint32_t run_count = 0;
    u64 run_mass = 0;
    for (int i = static_cast<int>(threadIdx.x); i < row.vocab; i += kThreads) {
      const float s = row.scaled(i);
      const uint32_t key = rank_key(s);
      if ((key & mask) != prefix) continue;
      const int digit = static_cast<int>((key >> shift) & 0xffu);
      if (digit != run_digit) {
        if (run_count != 0) {
          atomicAdd(&sh.counts[run_digit], run_count);
          if (run_mass != 0) atomicAdd(&sh.masses[run_digit], run_mass);
        }
        run_digit = digit;
        run_count = 0;
        run_mass = 0;
      }
      ++run_count;
      run_mass += row.fixed(row.weight_of(s));
    }
    if (run_count != 0) {
      atomicAdd(&sh.counts[run_digit], run_count);
      if (run_mass != 0) atomicAdd(&sh.masses[run_digit], run_mass);
    }
    __syncthreads();
    if (threadIdx.x < 32) {
      // Rank order is descending digit: lane l takes digits 255 - 8l down to 248 - 8l.
      const int lane = static_cast<int>(threadIdx.x);
      u64 lane_count = 0, lane_mass = 0;
      for (int k = 0; k < 8; ++k) {
        const int d = kDigitBins - 1 - 8 * lane - k;
        lane_count += sh.counts[d];
        lane_mass += sh.masses[d];
      }
      u64 cum_count = count_above + warp_inclusive_scan(lane_count) - lane_count;
      u64 cum_mass = mass_above + warp_inclusive_scan(lane_mass) - lane_mass;
      for (int k = 0; k < 8; ++k) {
        const int d = kDigitBins - 1 - 8 * lane - k;
        const u64 c = sh.counts[d], m = sh.masses[d];
        // The crossing bin is unique: everything before it is <= target, it takes the sum past target.
        const bool crosses = by_mass ? (cum_mass <= target && target < cum_mass + m)
                                     : (cum_count <= target && target < cum_count + c);
        if (crosses) {
          sh.found = 1;
          sh.digit = d;
          sh.count_above = static_cast<unsigned int>(cum_count);
          sh.mass_above = cum_mass;
          sh.bin_count = static_cast<unsigned int>(c);
          sh.bin_mass = m;
        }
        cum_count += c;
        cum_mass += m;
      }
    }
    __syncthreads();
    const bool found = sh.found != 0;
    if (found) {
      prefix |= static_cast<uint32_t>(sh.digit) << shift;
      mask |= 0xffu << shift;
      count_above = sh.count_above;
      mass_above = sh.mass_above;
      bin_count = sh.bin_count;
      bin_mass = sh.bin_mass;
    }
    __syncthreads();  // every thread has read sh before the next level clears it
    if (!found) return result;  // target past the row's total: the caller passed a bad target
  }
  result.found = true;
  result.key = prefix;
  result.count_above = count_above;
  result.mass_above = mass_above;
  // Every token of one key has one scaled logit, hence one weight: the bin's mass is count * weight.
  result.weight = bin_count != 0 ? bin_mass / bin_count : 0;
  u64 tie = by_mass ? (result.weight != 0 ? (target - mass_above) / result.weight : 0) : target - count_above;
  if (bin_count != 0 && tie > bin_count - 1) tie = bin_count - 1;
  result.tie = static_cast<uint32_t>(tie);
  return result;
}

// The id of a Selected token: the tie-th token of its key in index order.
__device__ int selected_token(const Row& row, const Selected& sel) {
  const uint32_t key = sel.key;
  return index_select(row.vocab, [&](int i) -> u64 { return rank_key(row.scaled(i)) == key ? 1ull : 0ull; }, sel.tie);
}

// Tokens that pass min-p (and have weight > 0): a prefix of the rank order, since weights fall with rank.
__device__ uint32_t kept_count(const Row& row) {
  uint32_t kept = 0;
  for (int i = static_cast<int>(threadIdx.x); i < row.vocab; i += kThreads)
    kept += row.keep(row.weight_of(row.scaled(i))) ? 1u : 0u;
  return block_reduce(kept, Sum());
}

// floor(u * total), below total (u < 1, but the product rounds).
__device__ u64 draw_target(double uniform, u64 total) {
  const u64 t = __double2ull_rz(__dmul_rn(uniform, __ull2double_rn(total)));
  return t < total ? t : total - 1;
}

// The host includes candidates while their mass before is < top_p * total: in integers, < ceil(that).
__device__ u64 nucleus_mass(float top_p, u64 total) {
  u64 n = __double2ull_ru(__dmul_rn(static_cast<double>(top_p), __ull2double_rn(total)));
  if (n < 1) n = 1;
  return n < total ? n : total;
}

// The draw over a rank-order prefix of fixed-point mass `mass`.
__device__ int draw_in_rank_order(const Row& row, double uniform, u64 mass, int fallback, RadixShared& sh) {
  const Selected sel = rank_select(row, true, draw_target(uniform, mass), sh);
  if (!sel.found) return fallback;
  const int token = selected_token(row, sel);
  return token >= 0 ? token : fallback;
}

struct BucketShared {
  unsigned int counts[kBuckets];
  u64 masses[kBuckets];
  int boundary;
  unsigned int count_before;
  u64 mass_before;
};

// sampling_filters.cpp's bucket: floor(8 * nats below the max), capped at the tail.
__device__ __forceinline__ int bucket_of(const Row& row, float s) {
  return static_cast<int>(fminf(__fmul_rn(__fsub_rn(row.max_scaled, s), kBucketsPerNat), kTailBucket));
}

// Random sampling (temperature >= kGreedyTemperature): returns the token, `argmax` where rounding leaves
// nothing to draw from.
__device__ int draw(const SampleRowSettings& s, const Row& row, int argmax, RadixShared& radix, BucketShared& buckets) {
  const bool use_top_k = s.top_k > 0;
  const bool use_top_p = s.top_p < 1.0f;

  if (!use_top_k && !use_top_p) {
    // Dense: index order, min-p as a threshold on the weight.
    auto weight = [&](int i) -> u64 {
      const float w = row.weight_of(row.scaled(i));
      return w >= row.min_p ? row.fixed(w) : 0ull;
    };
    u64 local = 0;
    for (int i = static_cast<int>(threadIdx.x); i < row.vocab; i += kThreads) local += weight(i);
    const u64 total = block_reduce(local, Sum());
    if (total == 0) return argmax;
    const int token = index_select(row.vocab, weight, draw_target(s.uniform, total));
    return token >= 0 ? token : argmax;
  }

  if (use_top_k) {
    // Rank order throughout: the top k, then the nucleus over their mass, then min-p.
    const Selected k_sel = rank_select(row, false, static_cast<u64>(s.top_k - 1), radix);
    if (!k_sel.found) return argmax;
    uint32_t length = static_cast<uint32_t>(s.top_k);
    u64 mass = k_sel.mass_through();
    if (use_top_p) {
      const Selected n_sel = rank_select(row, true, nucleus_mass(s.top_p, mass) - 1, radix);
      if (n_sel.found && n_sel.rank() + 1 < length) {
        length = n_sel.rank() + 1;
        mass = n_sel.mass_through();
      }
    }
    const uint32_t kept = kept_count(row);
    if (kept < length) {
      if (kept == 0) return argmax;
      const Selected p_sel = rank_select(row, false, kept - 1, radix);
      if (!p_sel.found) return argmax;
      length = kept;
      mass = p_sel.mass_through();
    }
    if (mass == 0) return argmax;
    return draw_in_rank_order(row, s.uniform, mass, argmax, radix);
  }

  // top-p alone: the host's buckets decide the order (index order before the boundary bucket).
  for (int b = static_cast<int>(threadIdx.x); b < kBuckets; b += kThreads) {
    buckets.counts[b] = 0;
    buckets.masses[b] = 0;
  }
  if (threadIdx.x == 0) {  // overwritten below: the integer sums always reach the nucleus somewhere
    buckets.boundary = kBuckets - 1;
    buckets.count_before = 0;
    buckets.mass_before = 0;
  }
  __syncthreads();
  {
    int run_bucket = -1;
    uint32_t run_count = 0;
    u64 run_mass = 0;
    for (int i = static_cast<int>(threadIdx.x); i < row.vocab; i += kThreads) {
      const float sc = row.scaled(i);
      const int b = bucket_of(row, sc);
      if (b != run_bucket) {
        if (run_count != 0) {
          atomicAdd(&buckets.counts[run_bucket], run_count);
          if (run_mass != 0) atomicAdd(&buckets.masses[run_bucket], run_mass);
        }
        run_bucket = b;
        run_count = 0;
        run_mass = 0;
      }
      ++run_count;
      run_mass += row.fixed(row.weight_of(sc));
    }
    if (run_count != 0) {
      atomicAdd(&buckets.counts[run_bucket], run_count);
      if (run_mass != 0) atomicAdd(&buckets.masses[run_bucket], run_mass);
    }
  }
  __syncthreads();
  u64 total = 0;
  for (int b = static_cast<int>(threadIdx.x); b < kBuckets; b += kThreads) total += buckets.masses[b];
  total = block_reduce(total, Sum());
  if (total == 0) return argmax;
  const u64 nucleus = nucleus_mass(s.top_p, total);
  if (threadIdx.x < 32) {
    // The boundary: the first bucket whose inclusive mass reaches the nucleus. Lane l takes buckets
    // [11 l, 11 l + 11) in ascending order (352 >= 321 slots).
    constexpr int kPerLane = (kBuckets + 31) / 32;
    const int lane = static_cast<int>(threadIdx.x);
    u64 lane_count = 0, lane_mass = 0;
    for (int k = 0; k < kPerLane; ++k) {
      const int b = lane * kPerLane + k;
      if (b < kBuckets) {
        lane_count += buckets.counts[b];
        lane_mass += buckets.masses[b];
      }
    }
    u64 cum_count = warp_inclusive_scan(lane_count) - lane_count;
    u64 cum_mass = warp_inclusive_scan(lane_mass) - lane_mass;
    for (int k = 0; k < kPerLane; ++k) {
      const int b = lane * kPerLane + k;
      if (b >= kBuckets) break;
      const u64 m = buckets.masses[b];
      if (cum_mass < nucleus && nucleus <= cum_mass + m) {
        buckets.boundary = b;
        buckets.count_before = static_cast<unsigned int>(cum_count);
        buckets.mass_before = cum_mass;
      }
      cum_count += buckets.counts[b];
      cum_mass += m;
    }
  }
  __syncthreads();
  const int boundary = buckets.boundary;
  const uint32_t count_before = buckets.count_before;
  const u64 mass_before = buckets.mass_before;
  __syncthreads();

  // The nucleus is a rank prefix; so is min-p's cut.
  const Selected n_sel = rank_select(row, true, nucleus - 1, radix);
  if (!n_sel.found) return argmax;
  uint32_t length = n_sel.rank() + 1;
  u64 mass = n_sel.mass_through();
  const uint32_t kept = kept_count(row);
  if (kept < length) {
    if (kept == 0) return argmax;
    const Selected p_sel = rank_select(row, false, kept - 1, radix);
    if (!p_sel.found) return argmax;
    length = kept;
    mass = p_sel.mass_through();
  }
  if (mass == 0) return argmax;
  // Candidates before the boundary bucket, in index order, weigh `before`: all of them when the cut
  // reaches into the boundary bucket (then min-p dropped none of them), else the whole candidate mass.
  const u64 before = length > count_before ? mass_before : mass;
  const u64 target = draw_target(s.uniform, mass);
  if (target < before) {
    auto weight = [&](int i) -> u64 {
      const float sc = row.scaled(i);
      if (bucket_of(row, sc) >= boundary) return 0ull;
      const float w = row.weight_of(sc);
      return row.keep(w) ? row.fixed(w) : 0ull;
    };
    const int token = index_select(row.vocab, weight, target);
    return token >= 0 ? token : argmax;
  }
  // Within the boundary bucket, in rank order: the full rank order's cumulative mass there is the
  // target itself, because everything ranked above the bucket is the `before` part.
  const Selected sel = rank_select(row, true, target, radix);
  if (!sel.found) return argmax;
  const int token = selected_token(row, sel);
  return token >= 0 ? token : argmax;
}

__global__ void __launch_bounds__(kThreads) sample_rows_kernel(SampleRowsArgs a) {
  strata::kernels::cuda::enter_kernel();  // launch.cuh: before any global memory access
  __shared__ RadixShared radix;
  __shared__ BucketShared buckets;
  const SampleRowSettings s = a.settings[blockIdx.x];
  SampleRowResult* out = a.results + blockIdx.x;
  const int tid = static_cast<int>(threadIdx.x);
  if (s.skip) {
    if (tid == 0) out->status = kSampleSkipped;
    return;
  }
  float* x = a.logits + s.row * a.row_stride;
  const int vocab = static_cast<int>(a.vocab);

  // 1. Penalties, as apply_penalties: repetition, then presence / frequency (the host fuses f * c + p).
  for (int e = tid; e < s.penalty_count; e += kThreads) {
    const PenaltyEntry entry = a.penalties[s.penalty_begin + e];
    float v = x[entry.token_id];
    if (v != v) continue;  // a NaN keeps its bits, as on the host (the error message prints it)
    if (s.repetition_penalty != 1.0f)
      v = v > 0.0f ? __fdiv_rn(v, s.repetition_penalty) : __fmul_rn(v, s.repetition_penalty);
    if ((s.presence_penalty != 0.0f || s.frequency_penalty != 0.0f) && entry.generated_count > 0)
      v = __fsub_rn(v, __fmaf_rn(s.frequency_penalty, static_cast<float>(entry.generated_count), s.presence_penalty));
    x[entry.token_id] = v;
  }
  __syncthreads();  // the block's own global writes are visible to it after the barrier

  // 2. The first bad logit, the maximum and the argmax.
  int bad = vocab;
  u64 best = 0;
  for (int i = tid; i < vocab; i += kThreads) {
    const float v = x[i];
    if (!(v < INFINITY)) {
      bad = min(bad, i);
    } else {
      const u64 r = ranked(rank_key(v), i);
      best = r > best ? r : best;
    }
  }
  bad = block_reduce(bad, Min());
  best = block_reduce(best, Max());
  if (bad < vocab) {
    if (tid == 0) {
      out->status = kSampleBadLogit;
      out->bad_token = bad;
      out->bad_value = x[bad];
    }
    return;
  }
  const float max_logit = key_value(static_cast<uint32_t>(best >> 32));
  if (max_logit == -INFINITY) {
    if (tid == 0) out->status = kSampleAllNegativeInfinity;
    return;
  }
  const int argmax = ranked_index(best);

  // 3. log Σ exp(logit - max), the sum in double as the host's.
  double sum = 0.0;
  for (int i = tid; i < vocab; i += kThreads) sum += static_cast<double>(exp_nonpositive(__fsub_rn(x[i], max_logit)));
  sum = block_reduce(sum, Sum());
  const float log_normaliser = __fadd_rn(max_logit, __double2float_rn(log(sum)));

  // 4. The token.
  int token = argmax;
  if (!s.greedy) {
    Row row;
    row.logits = x;
    row.vocab = vocab;
    row.inverse_temperature = s.inverse_temperature;
    row.max_scaled = __fmul_rn(max_logit, s.inverse_temperature);
    row.fixed_scale = fixed_scale_for(vocab);
    row.min_p = s.min_p;
    token = draw(s, row, argmax, radix, buckets);
  }
  if (tid == 0) {
    out->status = kSampleOk;
    out->token_id = token;
    out->logprob = __fsub_rn(x[token], log_normaliser);
    out->top_count = 0;
  }

  // 5. The top alternatives: rank r is the best token ranked below rank r - 1.
  const int wanted = min(s.logprobs, min(vocab, kMaxTopLogprobs));
  u64 previous = ~0ull;
  for (int r = 0; r < wanted; ++r) {
    u64 next = 0;
    for (int i = tid; i < vocab; i += kThreads) {
      const u64 candidate = ranked(rank_key(x[i]), i);
      if (candidate < previous && candidate > next) next = candidate;
    }
    next = block_reduce(next, Max());
    if (next == 0) break;
    if (tid == 0) {
      const int id = ranked_index(next);
      out->top_ids[r] = id;
      out->top_logprobs[r] = __fsub_rn(x[id], log_normaliser);
      out->top_count = r + 1;
    }
    previous = next;
  }
}

}  // namespace

void sample_rows(const SampleRowsArgs& args, void* stream) {
  if (args.rows <= 0) return;
  strata::kernels::cuda::launch_kernel(sample_rows_kernel, static_cast<unsigned>(args.rows), kThreads, 0, static_cast<cudaStream_t>(stream), args);
  strata::cuda::check_last_error("sample_rows");
}

}  // namespace strata::engine::cuda
