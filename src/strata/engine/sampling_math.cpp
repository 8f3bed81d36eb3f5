#include "strata/engine/sampling_math.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace strata::engine {
namespace {

// Independent partial sums in fixed lanes let GCC vectorise the reduction without -ffast-math.
constexpr size_t kLanes = 16;

}  // namespace

// A signed integer ordered like the float (for non-NaN values); its own inverse. Integer max
// vectorises where a float select does not (GCC keeps NaN semantics without -ffast-math).
inline int32_t order_key(int32_t bits) { return bits ^ ((bits >> 31) & 0x7fffffff); }

float max_value(std::span<const float> in) {
  const size_t n = in.size();
  const size_t body = n - n % kLanes;
  constexpr int32_t kLowest = std::numeric_limits<int32_t>::min();  // below the key of -inf
  int32_t lanes[kLanes];
  for (int32_t& lane : lanes) lane = kLowest;
  for (size_t i = 0; i < body; i += kLanes)
    for (size_t j = 0; j < kLanes; ++j)
      lanes[j] = std::max(lanes[j], order_key(std::bit_cast<int32_t>(in[i + j])));
  int32_t m = kLowest;
  for (int32_t lane : lanes) m = std::max(m, lane);
  for (size_t i = body; i < n; ++i) m = std::max(m, order_key(std::bit_cast<int32_t>(in[i])));
  return m == kLowest ? -INFINITY : std::bit_cast<float>(order_key(m));
}

double sum_of(std::span<const float> in) {
  const size_t n = in.size();
  const size_t body = n - n % kLanes;
  double lanes[kLanes] = {};
  for (size_t i = 0; i < body; i += kLanes)
    for (size_t j = 0; j < kLanes; ++j) lanes[j] += static_cast<double>(in[i + j]);
  double sum = 0.0;
  for (double lane : lanes) sum += lane;
  for (size_t i = body; i < n; ++i) sum += static_cast<double>(in[i]);
  return sum;
}

bool all_below_infinity(std::span<const float> in) {
  const size_t n = in.size();
  const size_t body = n - n % kLanes;
  uint32_t lanes[kLanes];
  for (uint32_t& lane : lanes) lane = 1;
  for (size_t i = 0; i < body; i += kLanes)
    for (size_t j = 0; j < kLanes; ++j) lanes[j] &= static_cast<uint32_t>(in[i + j] < INFINITY);
  uint32_t ok = 1;
  for (uint32_t lane : lanes) ok &= lane;
  for (size_t i = body; i < n; ++i) ok &= static_cast<uint32_t>(in[i] < INFINITY);
  return ok != 0;
}

// Float partial sums per lane, flushed into double every kFlush elements: float adds keep the
// loop as wide as the exp, and a lane's float sum of at most kFlush / kLanes terms in [0, 1] stays
// within ~1e-6 relative.
constexpr size_t kFlush = 1024;

template <bool kStore>
double exp_sum(std::span<const float> in, float shift, float* out) {
  const size_t n = in.size();
  const size_t body = n - n % kLanes;
  double sum = 0.0;
  for (size_t chunk = 0; chunk < body; chunk += kFlush) {
    const size_t end = std::min(chunk + kFlush, body);
    float lanes[kLanes] = {};
    for (size_t i = chunk; i < end; i += kLanes) {
      for (size_t j = 0; j < kLanes; ++j) {
        const float e = exp_nonpositive(in[i + j] - shift);
        if constexpr (kStore) out[i + j] = e;
        lanes[j] += e;
      }
    }
    for (float lane : lanes) sum += static_cast<double>(lane);
  }
  for (size_t i = body; i < n; ++i) {
    const float e = exp_nonpositive(in[i] - shift);
    if constexpr (kStore) out[i] = e;
    sum += static_cast<double>(e);
  }
  return sum;
}

double exp_shifted(std::span<const float> in, float shift, float* out) {
  return exp_sum<true>(in, shift, out);
}

double sum_exp_shifted(std::span<const float> in, float shift) {
  return exp_sum<false>(in, shift, nullptr);
}

}  // namespace strata::engine
