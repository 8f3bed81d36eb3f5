// A GGUF file (llama.cpp's format) as a strata model: its metadata becomes the Hugging Face config.json
// the family code reads, its tensors are presented under the Hugging Face names the family tables use,
// converted where ggml stores them otherwise (../shared/peers/llama_cpp/README.md §2): ssm_a holds
// A = -exp(A_log) (given back as A_log = log(-A)), ssm_d and ssm_norm are reshaped, ssm_conv1d gains its
// middle axis, q/k rows are un-permuted (LlamaModel.permute), stacked experts are sliced per expert.
// Architectures: mamba2, nemotron_h, nemotron_h_moe. Tensor types: F32, F16 and BF16 as views into the
// mapping; Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K and Q6_K decoded to f32 at load, exactly as ggml
// decodes them (for now: kernels that read the blocks come next); others are refused naming the tensor.
#pragma once

#include <filesystem>
#include <memory>

#include <nlohmann/json.hpp>

#include "strata/io/gguf.h"
#include "strata/model/model.h"

namespace strata::model {

// The config.json equivalent of the file's metadata (and of its tensor directory: the layer kinds, biases
// and tied embeddings are read from which tensors exist). Throws strata::Error naming the file and the
// key for an unsupported architecture or a missing or inconsistent field.
nlohmann::json gguf_hf_config(const io::GgufFile& file);

// Loads the model (config, then every weight as above; the file stays mapped while the model lives).
std::unique_ptr<Model> load_gguf_model(const std::filesystem::path& path);

}  // namespace strata::model
