// Where a command's model lives: the MODEL_DIR argument, else $STRATA_MODEL, else the bundled demo model,
// checked before anything is read so that a mistyped path is reported as what the user typed
// ("MODEL_DIR '/nope' does not exist", "$STRATA_MODEL='/x' is a file, not a model directory").
#pragma once

#include <filesystem>
#include <string>

#include "strata/tokenizer/tokenizer.h"

namespace strata::cli {

// The model to load: a Hugging Face directory or a GGUF file; throws strata::Error naming where the path
// came from when it does not exist, is another kind of file, or is a directory without config.json.
std::filesystem::path resolve_model_dir(const std::string& argument);

// The same checks for a path that came from the MODEL_DIR argument (commands where it is required).
std::filesystem::path checked_model_dir(const std::string& argument);

// The model's tokenizer: MODEL/tokenizer.json, or a GGUF file's own vocabulary (tokenizer.ggml.*).
tokenizer::Tokenizer load_model_tokenizer(const std::filesystem::path& model);

}  // namespace strata::cli
