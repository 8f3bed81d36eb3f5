// Mamba2Mixer: one Mamba2 layer's mixer — in_proj → split [z | xBC | dt] → causal conv1d over xBC →
// SSD (chunked scan for prefill, state update for decode and verification) → gated RMSNorm with z →
// out_proj — over one packed batch, reading and writing the layer's conv and SSM state slots.
// Falcon-H1's variants are options of the same mixer: per-segment multipliers on the in_proj output,
// the norm after the gate or none at all.
#pragma once

#include "strata/model/tensor_visit.h"

#include <array>
#include <cstdint>
#include <limits>
#include <span>
#include <vector>

#include "strata/core/tensor.h"
#include "strata/core/exec.h"
#include "strata/core/workspace.h"
#include "strata/kernels/ssd.h"
#include "strata/kernels/varlen.h"
#include "strata/schedule/schedule.h"

namespace strata::model {

struct Mamba2Dims {
  int64_t hidden = 0;         // D, the residual width
  schedule::MambaDims ssm;    // H, P, N, G, K, chunk size: the shape the schedule and cache also use
  float dt_min = 0.0f;        // time_step_limit
  float dt_max = std::numeric_limits<float>::infinity();
  float norm_eps = 1e-5f;     // gated RMSNorm epsilon
  bool gated_norm = true;         // false: y·silu(z) with no RMSNorm (Falcon-H1 mamba_rms_norm false)
  bool norm_before_gate = false;  // true: rmsnorm(y)·w·silu(z) (Falcon-H1 mamba_norm_before_gate)
  // Multipliers of the in_proj output segments z, x, B, C, dt (Falcon-H1's ssm_multipliers; 1 = none).
  std::array<float, 5> projection_multipliers{1.0f, 1.0f, 1.0f, 1.0f, 1.0f};

  int64_t inner() const { return ssm.inner_size(); }       // E = H·P
  int64_t conv_dim() const { return ssm.conv_channels(); }  // channels of xBC
  int64_t in_proj_width() const { return 2 * inner() + 2 * ssm.n_groups * ssm.state_size + ssm.n_heads; }
};

// Checkpoint tensors as stored (any of f32/bf16/f16); absent optional tensors have data == nullptr.
struct Mamba2Weights {
  Tensor in_proj;        // [in_proj_width, D]
  Tensor in_proj_bias;   // [in_proj_width], optional
  Tensor conv_weight;    // [conv_dim, 1, K] or [conv_dim, K]
  Tensor conv_bias;      // [conv_dim], optional
  Tensor dt_bias;        // [H]
  Tensor A_log;          // [H]
  Tensor D;              // [H]
  Tensor norm_weight;    // [E]; absent without the gated norm
  Tensor out_proj;       // [D, E]
  Tensor out_proj_bias;  // [D], optional
};

// One step's view of the batch for this layer. The leading `decode_sequences` sequences run token by
// token through the state-update kernel (one-token decodes and (1+S)-token verifications); the rest are
// prefilled with the chunked scan. A sequence whose keep_states entry is set (or every sequence, with
// `verify`) has its state after every token copied into the speculative buffers, for rollback.
struct Mamba2Batch {
  kernels::VarlenBatch varlen;
  int64_t decode_sequences = 0;           // leading sequences taking the token-by-token path
  bool verify = false;                    // every sequence is a verification: keep per-token states
  std::span<const uint8_t> keep_states;   // per sequence (empty: none); keepers must be leading
};

// The layer's state: pool views from the state cache (see cache/state_cache.h).
struct Mamba2LayerState {
  Tensor conv_pool;          // [slots, K-1, conv_dim]
  Tensor ssm_pool;           // [slots, H, P, N]
  Tensor speculative_conv;   // [slots, S+1, K-1, conv_dim] f32, for verify steps
  Tensor speculative_ssm;    // [slots, S+1, H, P, N] f32, for verify steps
};

class Mamba2Mixer {
 public:
  // Checks every tensor's shape against `dims` (throws strata::Error naming `name` and the tensor) and
  // converts the small per-channel parameters to f32 once.
  Mamba2Mixer(const Mamba2Dims& dims, const Mamba2Weights& weights, const std::string& name);

  const Mamba2Dims& dims() const { return dims_; }

  // The block's RMSNorm of the residual, handed to the mixer so its in_proj can fuse it
  // (kernels/norm_gemm.h): forward then reads x un-normed, and `normed` ([T, D] f32) is scratch for the
  // normed rows where the norm is not fused.
  struct InputNorm {
    const Tensor* weight = nullptr;
    float eps = 1e-5f;
    Tensor normed;
  };

  // x: f32 [T, D] (the normed residual, or the residual itself with input_norm); out: f32 [T, D]. With
  // accumulate, out += mixer(x) (the residual add); otherwise out = mixer(x). out may be x only with
  // input_norm (x is read by in_proj, before anything is written).
  void forward(const Tensor& x, Tensor& out, bool accumulate, const Mamba2Batch& batch,
               const Mamba2LayerState& state, Workspace& workspace, const Exec& exec,
               const InputNorm* input_norm = nullptr) const;

  // Workspace bytes forward takes for at most `tokens` tokens in `sequences` sequences, of which at most
  // `kept_sequences` keep per-token states over at most `kept_length` tokens each, on `device` (the
  // CUDA scan keeps every chunk boundary's state, the CPU's does not).
  size_t scratch_bytes(int64_t tokens, int64_t sequences, int64_t kept_sequences, int64_t kept_length,
                       int threads, Device device = Device::cpu) const;
  // Every tensor forward reads (projections, biases, the f32 per-channel parameters).
  void visit_tensors(const TensorVisitor& visit);

 private:
  // The scan's parameters for `tokens` prefill rows on `exec` (nullptr: sizes only): the fast path
  // (16-bit in_proj weights, as uploaded without --precision exact) takes the SSD's products on the CUDA
  // tensor cores in bf16 beyond CudaContext::precise_max_rows rows.
  kernels::SsdParams ssd_params(int64_t tokens, const Exec* exec) const;

  Mamba2Dims dims_;
  Mamba2Weights weights_;
  // f32: conv weight [conv_dim, K], conv bias, A = -exp(A_log), D, dt_bias, norm weight, and the in_proj
  // column multipliers (absent when all are 1).
  Buffer params_;
  Tensor conv_weight_, conv_bias_, A_, D_, dt_bias_, norm_weight_, projection_scale_;
};

}  // namespace strata::model
