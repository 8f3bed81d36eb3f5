#include "model_dir.h"

#include <cstdlib>
#include <system_error>

#include "strata/core/error.h"
#include "strata/io/gguf.h"
#include "strata/tokenizer/gguf_vocab.h"

namespace strata::cli {

namespace {

std::filesystem::path checked(const std::string& path, const std::string& source) {
  std::error_code ec;
  const std::filesystem::path dir(path);
  if (!std::filesystem::exists(dir, ec)) fail("{}'{}' does not exist", source, path);
  if (!std::filesystem::is_directory(dir, ec)) {
    if (io::is_gguf_file(dir)) return dir;  // a llama.cpp GGUF file is a whole model
    fail("{}'{}' is a file, not a model directory or a GGUF file (give the directory that holds config.json)",
         source, path);
  }
  if (!std::filesystem::is_regular_file(dir / "config.json", ec))
    fail("{}'{}' has no config.json: not a Hugging Face model directory", source, path);
  return dir;
}

}  // namespace

std::filesystem::path resolve_model_dir(const std::string& argument) {
  if (!argument.empty()) return checked(argument, "MODEL_DIR ");
  if (const char* env = std::getenv("STRATA_MODEL"); env && *env) return checked(env, "$STRATA_MODEL=");
  return checked(STRATA_DEFAULT_MODEL_DIR, "the bundled demo model ");
}

std::filesystem::path checked_model_dir(const std::string& argument) { return checked(argument, "MODEL_DIR "); }

tokenizer::Tokenizer load_model_tokenizer(const std::filesystem::path& model) {
  if (io::is_gguf_file(model)) return tokenizer::gguf_tokenizer(io::GgufFile::open(model));
  return tokenizer::Tokenizer::load(model / "tokenizer.json");
}

}  // namespace strata::cli
