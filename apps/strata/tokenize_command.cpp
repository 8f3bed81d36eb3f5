// `strata tokenize MODEL_DIR (-p TEXT | -f FILE) [--no-special] [--json]` prints the token ids and pieces
// of a text as Hugging Face `tokenizers` encodes it (special tokens added by the post-processor, as
// `encode` does by default; --no-special leaves them out), to check a tokenizer or count tokens.
// `strata detokenize MODEL_DIR IDS... [--skip-special]` prints the text of ids, as `decode` gives it.
// MODEL_DIR needs only tokenizer.json (and tokenizer_config.json when the model has one), or is a GGUF file.
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "command_registry.h"
#include "text_file.h"
#include "strata/core/error.h"
#include "strata/io/gguf.h"
#include "strata/tokenizer/gguf_vocab.h"
#include "strata/tokenizer/tokenizer.h"

namespace strata::cli {
namespace {

struct TokenizeArgs {
  std::string model_dir, prompt, file;
  bool no_special = false, json = false;
  bool from_file = false;  // -f was given (else -p; the callback checks exactly one was)
};

struct DetokenizeArgs {
  std::string model_dir;
  std::vector<int64_t> ids;
  bool skip_special = false;
};

tokenizer::Tokenizer load_tokenizer(const std::string& model_dir) {
  const std::filesystem::path dir(model_dir);
  std::error_code ec;
  if (!std::filesystem::exists(dir, ec)) fail("MODEL_DIR '{}' does not exist", model_dir);
  if (io::is_gguf_file(dir)) return tokenizer::gguf_tokenizer(io::GgufFile::open(dir));
  if (!std::filesystem::is_directory(dir, ec))
    fail("MODEL_DIR '{}' is a file, not a model directory or a GGUF file", model_dir);
  if (!std::filesystem::is_regular_file(dir / "tokenizer.json", ec))
    fail("MODEL_DIR '{}' has no tokenizer.json", model_dir);
  return tokenizer::Tokenizer::load(dir / "tokenizer.json");
}

void tokenize(const TokenizeArgs& a) {
  const tokenizer::Tokenizer tok = load_tokenizer(a.model_dir);
  const std::string text = a.from_file ? read_text_file(a.file) : a.prompt;
  const std::vector<int32_t> ids = tok.encode(text, !a.no_special);
  std::vector<std::string> pieces;
  pieces.reserve(ids.size());
  for (int32_t id : ids) pieces.push_back(tok.id_to_token(id).value_or(""));
  if (a.json) {
    const nlohmann::ordered_json out{{"ids", ids}, {"pieces", pieces}};
    std::printf("%s\n", out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    return;
  }
  // One token per line: id, a tab, the piece as JSON (quotes and escapes show spaces and control bytes).
  for (size_t i = 0; i < ids.size(); ++i)
    std::printf("%d\t%s\n", ids[i],
                nlohmann::json(pieces[i]).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
  std::fprintf(stderr, "%zu tokens\n", ids.size());
}

void detokenize(const DetokenizeArgs& a) {
  const tokenizer::Tokenizer tok = load_tokenizer(a.model_dir);
  std::vector<int32_t> ids;
  const int64_t vocab = static_cast<int64_t>(tok.vocab_size());
  for (size_t i = 0; i < a.ids.size(); ++i) {
    if (a.ids[i] < 0 || a.ids[i] >= vocab)
      fail("token id {} (argument {}) is outside the vocabulary [0, {})", a.ids[i], i + 1, vocab);
    ids.push_back(static_cast<int32_t>(a.ids[i]));
  }
  const std::string text = tok.decode(ids, a.skip_special);
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::printf("\n");
}

const CommandRegistration tokenize_registration(14, [](CLI::App& app) {
  auto a = std::make_shared<TokenizeArgs>();
  CLI::App* cmd = app.add_subcommand("tokenize", "Print the token ids and pieces of a text, as HF tokenizers encodes it");
  cmd->add_option("MODEL_DIR", a->model_dir, "model directory (its tokenizer.json)")->required();
  CLI::Option* prompt = cmd->add_option("-p,--prompt", a->prompt, "the text");
  CLI::Option* file = cmd->add_option("-f,--file", a->file, "a file holding the text");
  cmd->add_flag("--no-special", a->no_special, "leave out the special tokens the post-processor adds (BOS, ...)");
  cmd->add_flag("--json", a->json, "print {\"ids\": [...], \"pieces\": [...]}");
  cmd->callback([a, prompt, file] {
    if (prompt->count() + file->count() != 1) fail("strata tokenize: give the text with -p TEXT or -f FILE (exactly one)");
    a->from_file = file->count() == 1;
    tokenize(*a);
  });
});

const CommandRegistration detokenize_registration(15, [](CLI::App& app) {
  auto a = std::make_shared<DetokenizeArgs>();
  CLI::App* cmd = app.add_subcommand("detokenize", "Print the text of token ids, as HF tokenizers decodes them");
  cmd->add_option("MODEL_DIR", a->model_dir, "model directory (its tokenizer.json)")->required();
  cmd->add_option("IDS", a->ids, "token ids")->required();
  cmd->add_flag("--skip-special", a->skip_special, "leave out special tokens (decode's skip_special_tokens)");
  cmd->callback([a] { detokenize(*a); });
});

}  // namespace
}  // namespace strata::cli
