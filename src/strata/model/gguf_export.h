// A Hugging Face checkpoint written as a GGUF file in llama.cpp's conventions — what its
// convert_hf_to_gguf.py (Mamba2Model, NemotronHModel) writes, so llama.cpp and strata's own GGUF loader
// (model/gguf_model.h, the exact inverse) both read it: names blk.N.*, A stored as -exp(A_log), q/k rows
// permuted per head, experts stacked, grouped norm (G, E/G), the byte-level BPE vocabulary from
// tokenizer.json as tokenizer.ggml.*. 1-D tensors, norms, biases, ssm_conv1d, ssm_a/ssm_d and the router
// stay F32 (as the converter keeps them); every other matrix takes `matrix_type` (F32, F16, BF16 or Q8_0;
// a matrix whose rows are not whole Q8_0 blocks stays F16, as llama-quantize falls back).
#pragma once

#include <filesystem>
#include <string>

#include "strata/io/gguf.h"

namespace strata::model {

struct GgufExportSummary {
  int64_t tensors = 0;
  int64_t quantized = 0;       // matrices written as matrix_type
  int64_t fallbacks = 0;       // matrices kept F16 because their rows are not whole blocks
  uint64_t bytes = 0;          // tensor data written
  // Non-empty when llama.cpp (d32676d7) cannot load the file although strata can: its nemotron_h_moe
  // loader takes every FFN layer for MoE, so dense MLP layers beside MoE ones stop it.
  std::string llama_cpp_caveat;
};

// Architectures: mamba2 and nemotron_h (nemotron_h_moe when it has MoE layers). Throws strata::Error
// naming the directory and the problem for another family, a missing tensor, or a tokenizer that is not a
// byte-level BPE (a checkpoint without tokenizer.json is written without a vocabulary).
GgufExportSummary export_gguf(const std::filesystem::path& hf_dir, const std::filesystem::path& out,
                              io::GgmlType matrix_type);

}  // namespace strata::model
