// Chunked SSD scan (Mamba2 prefill) on the CPU over a packed varlen batch: y = SSM(x, dt, A, B, C) + D·x,
// each sequence starting from its slot's state (or zeros) and writing its final state back to the slot,
// optionally capturing states at chunk boundaries. fp32 math; intra-chunk and state work are matrix products.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>

#include "strata/core/tensor.h"
#include "strata/core/thread_pool.h"
#include "strata/kernels/ssd.h"
#include "strata/kernels/varlen.h"

namespace strata::kernels::cpu {

// The operands are declared with the neutral entry point (kernels/ssd.h).
using kernels::SsdParams;
using kernels::SsdCapture;
using kernels::SsdInputs;

// Scratch the kernel needs for a batch of at most num_tokens tokens in num_sequences sequences, run on a
// pool of `threads` threads. Grows with (T/Q + S)·G·Q·(Q + N) floats (the chunks' C·Bᵀ and Bᵀ) plus a few
// Q×Q and N×P blocks per thread.
using kernels::ssd_workspace_bytes;  // declared with the neutral entry point

// Throws strata::Error naming the offending tensor or field if the arguments do not fit together: shapes,
// dtypes, strides, slots (in range, no duplicates), captures, workspace size for pool.size() threads.
using kernels::check_ssd_scan;  // declared with the neutral entry point

// The scan. ssm_states is the layer's state pool [num_slots, H, P, N] in f32 or bf16 (bf16 is widened on
// load and rounded once on the final store); y is [T, H*P] f32 (unit column stride) and must not overlap
// the inputs. Sequence i reads slot slots[i] when has_initial_state[i] (zeros otherwise) and overwrites it
// with its final state; a zero-length sequence writes its initial state back. Assumes ssd_scan_check
// passed; never throws, allocates nothing (all scratch lives in `workspace`, 64-byte aligned).
void ssd_scan(const SsdParams& params, const SsdInputs& inputs, const VarlenBatch& batch, Tensor ssm_states,
              Tensor y, std::span<const SsdCapture> captures, void* workspace, size_t workspace_bytes,
              ThreadPool& pool);

}  // namespace strata::kernels::cpu
