// Shared by the conv1d and state-update CUDA tests: a varlen batch with device mirrors placed the way a
// part of a step sees them (pointing past other sequences' entries, cu_seqlens shifted by row_offset),
// host/device twins of one tensor, column windows, and the comparisons of a CUDA result with the CPU's.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "cuda_test_support.h"
#include "strata/core/dtype.h"
#include "strata/kernels/varlen.h"

namespace strata::testing {

// Sequences added one by one; upload() puts the arrays on the device behind two junk entries each, with
// every device cu_seqlens value shifted by row_offset (the kernels must subtract it), so a kernel that
// reads the host spans, ignores the offset or indexes from the array start shows.
struct DeviceBatch {
  std::vector<int64_t> cu{0};
  std::vector<int32_t> slots;
  std::vector<uint8_t> has_initial;
  int64_t row_offset = 1000;
  Buffer cu_device, slots_device, initial_device;

  void add(int64_t length, int32_t slot, bool initial) {
    cu.push_back(cu.back() + length);
    slots.push_back(slot);
    has_initial.push_back(initial ? 1 : 0);
  }
  int64_t num_tokens() const { return cu.back(); }
  int64_t max_length() const {
    int64_t longest = 0;
    for (size_t i = 0; i + 1 < cu.size(); ++i) longest = std::max(longest, cu[i + 1] - cu[i]);
    return longest;
  }

  void upload() {
    constexpr size_t kJunk = 2;
    std::vector<int64_t> cu_shifted(kJunk, -123456789);
    for (int64_t v : cu) cu_shifted.push_back(v + row_offset);
    std::vector<int32_t> slots_padded(kJunk, 1 << 30);
    slots_padded.insert(slots_padded.end(), slots.begin(), slots.end());
    std::vector<uint8_t> initial_padded(kJunk, 7);
    initial_padded.insert(initial_padded.end(), has_initial.begin(), has_initial.end());
    auto put = [](Buffer& buffer, const void* data, size_t bytes) {
      buffer = Buffer(std::max<size_t>(bytes, 1), Device::cuda);
      cuda::copy(buffer.data(), data, bytes);
    };
    put(cu_device, cu_shifted.data(), cu_shifted.size() * sizeof(int64_t));
    put(slots_device, slots_padded.data(), slots_padded.size() * sizeof(int32_t));
    put(initial_device, initial_padded.data(), initial_padded.size() * sizeof(uint8_t));
  }

  // Host spans only: what the CPU twin gets.
  kernels::VarlenBatch host_view() const { return {cu, slots, has_initial}; }
  // Host spans plus the device mirrors (call upload() first).
  kernels::VarlenBatch device_view() const {
    kernels::VarlenBatch batch = host_view();
    batch.device.cu_seqlens = static_cast<const int64_t*>(cu_device.data()) + 2;
    batch.device.slots = static_cast<const int32_t*>(slots_device.data()) + 2;
    batch.device.has_initial_state = static_cast<const uint8_t*>(initial_device.data()) + 2;
    batch.device.row_offset = row_offset;
    return batch;
  }
};

// Columns [col, col + cols) of a 2-D tensor: same rows and row stride, a narrower view.
inline Tensor columns_of(const Tensor& t, int64_t col, int64_t cols) {
  Tensor w = t;
  w.data = static_cast<char*>(t.data) + col * t.stride(1) * static_cast<int64_t>(dtype_size(t.dtype));
  w.shape[1] = cols;
  return w;
}

// One tensor on both sides: the CPU twin runs on `host`, the CUDA twin on `device`, from equal contents.
struct Twin {
  HostTensor host;
  DeviceTensor device;
  const Tensor& cpu() const { return host.tensor; }
  const Tensor& gpu() const { return device.tensor; }
  // Copies the device result back into a fresh host tensor of the same layout.
  HostTensor gpu_result() const {
    HostTensor back;
    back.buffer = Buffer(std::max<size_t>(extent_bytes(host.tensor), 1));
    back.tensor = host.tensor;
    back.tensor.data = back.buffer.data();
    to_host(device.tensor, back.tensor);
    return back;
  }
};

// A contiguous tensor filled with N(0, scale) values (rounded to bf16 for a bf16 tensor), or with
// `poison` when poison is given, uploaded as is.
inline Twin make_twin(DType dtype, std::initializer_list<int64_t> shape, std::mt19937& rng, float scale = 1.0f,
                      const float* poison = nullptr) {
  Twin twin;
  twin.host = host_tensor(dtype, shape);
  std::normal_distribution<float> normal(0.0f, scale);
  const int64_t n = twin.host.tensor.numel();
  for (int64_t i = 0; i < n; ++i) {
    const float v = poison ? *poison : normal(rng);
    if (dtype == DType::bf16)
      twin.host.tensor.ptr<uint16_t>()[i] = f32_to_bf16(v);
    else
      twin.host.tensor.ptr<float>()[i] = v;
  }
  twin.device = to_device(twin.host.tensor);
  return twin;
}

// After editing twin.host on the host: the device copy again equals it.
inline void reupload(Twin& twin) {
  cuda::copy(twin.device.tensor.data, twin.host.tensor.data, extent_bytes(twin.host.tensor));
}

// Output buffers start as this finite sentinel on both sides: an element the CUDA kernel fails to write
// (or writes where it must not) differs from the CPU's.
inline constexpr float kPoison = -777.25f;

inline Twin make_output(std::initializer_list<int64_t> shape, std::mt19937& rng, DType dtype = DType::f32) {
  return make_twin(dtype, shape, rng, 1.0f, &kPoison);
}

inline std::vector<float> as_floats(const Tensor& host) {
  const size_t n = extent_bytes(host) / dtype_size(host.dtype);
  std::vector<float> out(n);
  for (size_t i = 0; i < n; ++i)
    out[i] = host.dtype == DType::bf16 ? bf16_to_f32(host.ptr<uint16_t>()[i]) : host.ptr<float>()[i];
  return out;
}

// f32 results: max |gpu - cpu| / max(1, max |cpu|) over the whole storage extent.
inline void expect_close(const Twin& twin, double tolerance, const char* what) {
  const HostTensor gpu_back = twin.gpu_result();
  const std::vector<float> got = as_floats(gpu_back.tensor), want = as_floats(twin.cpu());
  const double error = relative_max_error(got.data(), want.data(), got.size());
  EXPECT_LE(error, tolerance) << what;
}

// Bit-for-bit equality (states that are copies or equally rounded copies of equal inputs).
inline void expect_identical(const Twin& twin, const char* what) {
  const HostTensor gpu_back = twin.gpu_result();
  const size_t bytes = extent_bytes(twin.cpu());
  const uint8_t* got = static_cast<const uint8_t*>(gpu_back.tensor.data);
  const uint8_t* want = static_cast<const uint8_t*>(twin.cpu().data);
  size_t first = bytes;
  for (size_t i = 0; i < bytes && first == bytes; ++i)
    if (got[i] != want[i]) first = i;
  EXPECT_EQ(first, bytes) << what << ": first differing byte " << first << " of " << bytes;
}

// Two device results of the CUDA twin that must agree bit for bit (verify vs a chain of single steps).
inline bool device_bytes_equal(const Tensor& a, const Tensor& b, size_t bytes) {
  std::vector<uint8_t> x(bytes), y(bytes);
  gpu()->synchronize();
  cuda::copy(x.data(), a.data, bytes);
  cuda::copy(y.data(), b.data, bytes);
  return x == y;
}

// bf16 states after several tokens of f32 math: the CPU and the GPU round the same f32 value the same
// way, but their exp/log1p may differ in the last f32 bit, which on rare elements lands on the other
// side of a bf16 rounding boundary; after several tokens such a one-ulp step of a large state element
// carries into the next one, which may have cancelled to a smaller value. Every element must be within
// two bf16 ulps of itself or 2^-8 of the tensor's largest magnitude, and at most 1% may differ at all
// (a wrong rounding mode or a skipped store differs almost everywhere).
inline void expect_bf16_states_match(const Twin& twin, const char* what) {
  const HostTensor gpu_back = twin.gpu_result();
  const size_t n = extent_bytes(twin.cpu()) / 2;
  const uint16_t* got = gpu_back.tensor.ptr<uint16_t>();
  const uint16_t* want = twin.cpu().ptr<uint16_t>();
  float largest = 0.0f;
  for (size_t i = 0; i < n; ++i) largest = std::max(largest, std::fabs(bf16_to_f32(want[i])));
  size_t differing = 0;
  for (size_t i = 0; i < n; ++i) {
    if (got[i] == want[i]) continue;
    ++differing;
    const float g = bf16_to_f32(got[i]), w = bf16_to_f32(want[i]);
    auto ulp_of = [](float v) { return std::ldexp(1.0f, std::ilogb(v == 0.0f ? 1e-30f : v) - 7); };
    const float ulp = std::max(ulp_of(g), ulp_of(w));  // the wider one where they straddle a power of 2
    const float bound = std::max(2.0f * ulp, std::ldexp(largest, -8)) * 1.0001f;
    ASSERT_LE(std::fabs(g - w), bound) << what << " element " << i << ": gpu " << g << " cpu " << w;
  }
  EXPECT_LE(differing, std::max<size_t>(2, n / 100)) << what << ": " << differing << " of " << n << " differ";
}

}  // namespace strata::testing
