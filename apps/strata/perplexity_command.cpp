// `strata perplexity MODEL_DIR -f TEXT [--context 256] [--max-windows N] [--json]`: tokenizes the text
// with the model's tokenizer (BOS as its post-processor adds it), cuts it into non-overlapping windows,
// runs each from an empty state and reports mean negative log-likelihood and perplexity.
#include "device_option.h"
#include <iostream>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "command_registry.h"
#include "model_dir.h"
#include "progress.h"
#include "text_file.h"
#include "strata/core/error.h"
#include "strata/model/perplexity.h"
#include "strata/tokenizer/tokenizer.h"

namespace strata::cli {
namespace {

struct PerplexityArgs {
  std::string model_dir, text_file;
  int64_t context = 256, max_windows = 0;
  DeviceArgs device;
  int threads = 0, parallel = 4;
  bool json = false, llama_cpp_scoring = false;
};

void run(const PerplexityArgs& a) {
  if (a.context < 2) fail("--context must be at least 2, got {}", a.context);
  if (a.max_windows < 0 || a.parallel < 1 || a.threads < 0) fail("--max-windows, --parallel and --threads must be >= 0 (--parallel >= 1)");
  const std::filesystem::path dir = checked_model_dir(a.model_dir);
  const std::string text = read_text_file(a.text_file);  // regular files of at most 1 GiB: not /dev/zero
  const auto tokenizer = load_model_tokenizer(dir);
  const auto model = model::Model::load(dir);
  const Placement placement = place_model(*model, a.device);
  const std::vector<int32_t> ids = tokenizer.encode(text, /*add_special_tokens=*/true);
  ThreadPool pool(a.threads);
  Progress progress("perplexity", "windows", a.json);
  model::PerplexityOptions options;
  options.window = a.context;
  options.max_windows = a.max_windows;
  options.parallel_windows = a.parallel;
  if (a.llama_cpp_scoring) {  // llama-perplexity: whole windows, the second half of each scored
    if (a.context < 4) fail("--llama-cpp-scoring needs --context of at least 4, got {}", a.context);
    options.score_from = a.context / 2 + 1;
    options.whole_windows_only = true;
  }
  options.on_progress = [&](int64_t done, int64_t total) { progress.update(done, total); };
  const model::PerplexityResult r = model::perplexity(*model, ids, options, placement.exec(pool));
  progress.clear();
  if (a.json) {
    std::cout << nlohmann::ordered_json{{"tokens", r.tokens},       {"windows", r.windows},
                                        {"scored_tokens", r.scored_tokens}, {"mean_nll", r.mean_nll()},
                                        {"perplexity", r.perplexity()}, {"context", a.context}}
                     .dump(2)
              << "\n";
  } else {
    std::cout << fmt::format("tokens {}  windows {} of {}  scored {}\nmean NLL {:.6f}  perplexity {:.4f}\n", r.tokens,
                             r.windows, a.context, r.scored_tokens, r.mean_nll(), r.perplexity());
  }
}

const CommandRegistration registration(35, [](CLI::App& app) {
  auto args = std::make_shared<PerplexityArgs>();
  CLI::App* cmd = app.add_subcommand("perplexity", "Mean negative log-likelihood and perplexity of a text");
  cmd->add_option("MODEL_DIR", args->model_dir, "Hugging Face model directory (with tokenizer.json) or GGUF file")->required();
  cmd->add_option("-f,--file", args->text_file, "text file to score")->required();
  cmd->add_option("-c,--context", args->context, "tokens per window (each window starts from an empty state)");
  cmd->add_option("--max-windows", args->max_windows, "score only the first N windows (0 = all)");
  cmd->add_option("--parallel", args->parallel, "windows run together in one batch");
  cmd->add_option("-t,--threads", args->threads, "worker threads (0 = all cores)");
  add_device_options(cmd, args->device);
  cmd->add_flag("--llama-cpp-scoring", args->llama_cpp_scoring,
                "score as llama-perplexity does: whole windows only, the tokens of each window's second half");
  cmd->add_flag("--json", args->json, "Print one JSON object");
  cmd->callback([args] { run(*args); });
});

}  // namespace
}  // namespace strata::cli
