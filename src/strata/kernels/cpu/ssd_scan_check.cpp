// check_ssd_scan: the boundary validation for ssd_scan, which itself assumes valid arguments and never
// throws. Every message names the tensor or field and what was expected.
#include <algorithm>
#include <cmath>
#include <vector>

#include "strata/core/error.h"
#include "strata/kernels/cpu/ssd_scan.h"

namespace strata::kernels::cpu {

namespace {

void check_token_rows(const Tensor& t, const char* name, int64_t tokens, int64_t width, Device device) {
  if (t.device != device || t.dtype != DType::f32 || t.ndim != 2)
    fail("ssd_scan: {} must be a 2-D f32 {} tensor [{}, {}], got {}", name, device_name(device), tokens, width,
         t.describe());
  if (t.size(0) != tokens || t.size(1) != width)
    fail("ssd_scan: {} must be [{}, {}] (tokens, width), got {}", name, tokens, width, t.describe());
  if (width > 1 && t.stride(1) != 1)
    fail("ssd_scan: {} must have unit column stride, got stride {}", name, t.stride(1));
  if (tokens > 1 && t.stride(0) < width)
    fail("ssd_scan: {} row stride {} is smaller than its width {}", name, t.stride(0), width);
  if (tokens > 0 && t.data == nullptr) fail("ssd_scan: {} has no data", name);
}

void check_per_head(const Tensor& t, const char* name, int64_t heads, Device device) {
  if (t.device != device || t.dtype != DType::f32 || t.ndim != 1 || t.size(0) != heads ||
      !t.is_contiguous() || t.data == nullptr)
    fail("ssd_scan: {} must be a contiguous f32 {} tensor [{}] (one value per head), got {}", name,
         device_name(device), heads, t.describe());
}

struct ByteRange {
  const char* begin;
  const char* end;
};

ByteRange rows_range(const Tensor& t) {
  const char* begin = static_cast<const char*>(t.data);
  if (t.size(0) == 0 || t.size(1) == 0) return {begin, begin};
  const int64_t elems = (t.size(0) - 1) * t.stride(0) + t.size(1);
  return {begin, begin + elems * static_cast<int64_t>(dtype_size(t.dtype))};
}

bool overlaps(ByteRange a, ByteRange b) { return a.begin < b.end && b.begin < a.end; }

}  // namespace

}  // namespace strata::kernels::cpu

// Operand checks are device-neutral: one definition, declared in the neutral header. It shares this
// file's helpers.
namespace strata::kernels {

using namespace cpu;

void check_ssd_scan(const SsdParams& p, const SsdInputs& in, const VarlenBatch& batch,
                    const Tensor& ssm_states, const Tensor& y, std::span<const SsdCapture> captures,
                    size_t workspace_bytes, int threads) {
  if (p.n_heads <= 0 || p.head_dim <= 0 || p.state_size <= 0 || p.n_groups <= 0 || p.chunk_size <= 0)
    fail(
        "ssd_scan: heads, head_dim, state_size, n_groups and chunk_size must be positive, got H={} P={} N={} "
        "G={} Q={}",
        p.n_heads, p.head_dim, p.state_size, p.n_groups, p.chunk_size);
  if (p.n_heads % p.n_groups != 0)
    fail("ssd_scan: heads ({}) must be a multiple of n_groups ({})", p.n_heads, p.n_groups);
  if (std::isnan(p.dt_min) || std::isnan(p.dt_max) || p.dt_min > p.dt_max)
    fail("ssd_scan: dt limits must satisfy dt_min <= dt_max, got [{}, {}]", p.dt_min, p.dt_max);
  // The scan exponentiates only non-positive sums of dt·A: dt >= 0 and A <= 0 keep every decay in (0, 1].
  if (p.dt_min < 0.0f) fail("ssd_scan: dt_min must be >= 0 (dt is a step size), got {}", p.dt_min);

  const size_t num_sequences = batch.slots.size();
  if (batch.cu_seqlens.size() != num_sequences + 1 || batch.has_initial_state.size() != num_sequences)
    fail(
        "ssd_scan: batch needs cu_seqlens of num_sequences + 1 = {} entries and has_initial_state of {}, got "
        "{} and {}",
        num_sequences + 1, num_sequences, batch.cu_seqlens.size(), batch.has_initial_state.size());
  if (batch.cu_seqlens[0] != 0) fail("ssd_scan: cu_seqlens[0] must be 0, got {}", batch.cu_seqlens[0]);
  for (size_t i = 0; i < num_sequences; ++i)
    if (batch.cu_seqlens[i + 1] < batch.cu_seqlens[i])
      fail("ssd_scan: cu_seqlens must be non-decreasing, but cu_seqlens[{}] = {} < cu_seqlens[{}] = {}",
           i + 1, batch.cu_seqlens[i + 1], i, batch.cu_seqlens[i]);

  // Every tensor lives where x does; nothing below reads device memory.
  const Device device = in.x.device;
  const int64_t tokens = batch.num_tokens();
  check_token_rows(in.x, "x", tokens, p.n_heads * p.head_dim, device);
  check_token_rows(in.dt, "dt", tokens, p.n_heads, device);
  check_token_rows(in.B, "B", tokens, p.n_groups * p.state_size, device);
  check_token_rows(in.C, "C", tokens, p.n_groups * p.state_size, device);
  check_token_rows(y, "y", tokens, p.n_heads * p.head_dim, device);
  check_per_head(in.A, "A", p.n_heads, device);
  check_per_head(in.D, "D", p.n_heads, device);
  check_per_head(in.dt_bias, "dt_bias", p.n_heads, device);
  if (device == Device::cpu)  // a CUDA A stays unread here (the model builds it as -exp(A_log))
    for (int64_t h = 0; h < p.n_heads; ++h)
      if (!(in.A.ptr<const float>()[h] <= 0.0f))
        fail("ssd_scan: A[{}] = {} must be <= 0 (A = -exp(A_log))", h, in.A.ptr<const float>()[h]);
  if (device == Device::cuda && num_sequences > 0 &&
      (batch.device.cu_seqlens == nullptr || batch.device.slots == nullptr ||
       batch.device.has_initial_state == nullptr))
    fail("ssd_scan: a CUDA call needs the batch's cu_seqlens, slots and has_initial_state on the device "
         "(VarlenBatch::device)");
  for (const auto& [tensor, name] : {std::pair{&in.x, "x"}, {&in.dt, "dt"}, {&in.B, "B"}, {&in.C, "C"}})
    if (overlaps(rows_range(y), rows_range(*tensor)))
      fail("ssd_scan: output y overlaps input {}; the scan reads inputs after writing y", name);

  const Tensor& s = ssm_states;
  if (s.device != device || (s.dtype != DType::f32 && s.dtype != DType::bf16) || s.ndim != 4 ||
      s.size(1) != p.n_heads || s.size(2) != p.head_dim || s.size(3) != p.state_size || s.data == nullptr)
    fail("ssd_scan: ssm_states must be an f32 or bf16 {} tensor [num_slots, {}, {}, {}], got {}",
         device_name(device), p.n_heads, p.head_dim, p.state_size, s.describe());
  if (s.stride(3) != 1 || s.stride(2) != p.state_size || s.stride(1) != p.head_dim * p.state_size ||
      s.stride(0) < p.n_heads * p.head_dim * p.state_size)
    fail("ssd_scan: each slot of ssm_states {} must be a contiguous [H, P, N] block", s.describe());

  std::vector<int32_t> slots(batch.slots.begin(), batch.slots.end());
  for (size_t i = 0; i < num_sequences; ++i)
    if (slots[i] < 0 || slots[i] >= s.size(0))
      fail("ssd_scan: sequence {} uses slot {}, outside the state pool's {} slots", i, slots[i], s.size(0));
  std::sort(slots.begin(), slots.end());
  if (auto dup = std::adjacent_find(slots.begin(), slots.end()); dup != slots.end())
    fail("ssd_scan: slot {} is used by two sequences of the batch; each sequence needs its own state", *dup);

  for (size_t i = 0; i < captures.size(); ++i) {
    const SsdCapture& c = captures[i];
    if (c.sequence < 0 || c.sequence >= static_cast<int64_t>(num_sequences))
      fail("ssd_scan: capture {} names sequence {}, but the batch has {}", i, c.sequence, num_sequences);
    const int64_t length = batch.length(c.sequence);
    if (c.offset < 0 || c.offset > length || c.offset % p.chunk_size != 0)
      fail(
          "ssd_scan: capture {} asks for offset {} of sequence {} (length {}); offsets must be multiples of "
          "chunk_size {} within the sequence",
          i, c.offset, c.sequence, length, p.chunk_size);
    const Tensor& d = c.state;
    if (d.device != device || d.dtype != DType::f32 || d.ndim != 3 || d.size(0) != p.n_heads ||
        d.size(1) != p.head_dim || d.size(2) != p.state_size || !d.is_contiguous() || d.data == nullptr)
      fail("ssd_scan: capture {} destination must be a contiguous f32 {} tensor [{}, {}, {}], got {}", i,
           device_name(device), p.n_heads, p.head_dim, p.state_size, d.describe());
  }

  const size_t needed =
      cpu::ssd_workspace_bytes(p, tokens, static_cast<int64_t>(num_sequences), threads, device);
  if (workspace_bytes < needed)
    fail(
        "ssd_scan: workspace of {} bytes is too small; ssd_workspace_bytes gives {} for {} tokens, {} "
        "sequences and {} threads on {}",
        workspace_bytes, needed, tokens, num_sequences, threads, device_name(device));
}

}  // namespace strata::kernels

namespace strata::kernels::cpu {

}  // namespace strata::kernels::cpu
