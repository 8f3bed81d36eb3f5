// `strata logits MODEL_DIR --input IN.safetensors --out OUT.safetensors [--mode M] [--threads T]`: the
// float32 logits of every position of `input_ids` [B, L], through one execution path, for comparing
// strata with a reference (transformers) or one path with another.
#include "device_option.h"
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "command_registry.h"
#include "model_dir.h"
#include "strata/core/error.h"
#include "strata/core/thread_pool.h"
#include "strata/io/safetensors.h"
#include "strata/io/safetensors_writer.h"
#include "strata/model/logits_runner.h"

namespace strata::cli {
namespace {

struct LogitsArgs {
  std::string model_dir, input, output, mode = "full";
  int threads = 0;
  DeviceArgs device;
};

void run(const LogitsArgs& a) {
  const model::LogitsMode mode = model::parse_logits_mode(a.mode);
  if (a.threads < 0) fail("--threads must be >= 0 (0 = all cores), got {}", a.threads);
  const std::filesystem::path model_dir = checked_model_dir(a.model_dir);  // the paths in the order given
  const auto inputs = io::SafetensorsFile::open(a.input);
  if (!inputs.has("input_ids")) fail("{}: no tensor 'input_ids'", a.input);
  const Tensor ids = inputs.get("input_ids");
  if (ids.ndim != 2 || (ids.dtype != DType::i64 && ids.dtype != DType::i32))
    fail("{}: 'input_ids' must be an int64 (or int32) tensor [batch, length], got {}", a.input, ids.describe());
  const int64_t batch = ids.shape[0], length = ids.shape[1];
  if (batch == 0 || length == 0) fail("{}: 'input_ids' is empty ({}); give at least one token", a.input, ids.describe());

  const auto model = model::Model::load(model_dir);
  const Placement placement = place_model(*model, a.device);
  std::vector<int32_t> tokens(static_cast<size_t>(batch * length));
  for (int64_t i = 0; i < batch * length; ++i) {
    const int64_t id = ids.dtype == DType::i64 ? ids.ptr<const int64_t>()[i] : ids.ptr<const int32_t>()[i];
    if (id < 0 || id >= model->vocab_size())
      fail("{}: input_ids[{}][{}] = {} is outside the vocabulary [0, {})", a.input, i / length, i % length, id,
           model->vocab_size());
    tokens[static_cast<size_t>(i)] = static_cast<int32_t>(id);
  }
  ThreadPool pool(a.threads);
  std::vector<float> logits = model::run_logits(*model, tokens, batch, length, mode, placement.exec(pool));
  const Tensor out = Tensor::contiguous(logits.data(), DType::f32, {batch, length, model->vocab_size()});
  io::write_safetensors(a.output, {{"logits", out}}, {{"mode", a.mode}, {"model", a.model_dir}});
}

const CommandRegistration registration(40, [](CLI::App& app) {
  auto args = std::make_shared<LogitsArgs>();
  CLI::App* cmd = app.add_subcommand("logits", "Write the logits of every position of input_ids [B, L]");
  cmd->add_option("MODEL_DIR", args->model_dir, "Hugging Face model directory or GGUF file")->required();
  cmd->add_option("--input", args->input, "safetensors file holding input_ids [B, L] (int64)")->required();
  cmd->add_option("--out", args->output, "safetensors file to write logits [B, L, V] (float32) to")->required();
  cmd->add_option("--mode", args->mode, "full | decode | chunked=N");
  cmd->add_option("--threads", args->threads, "worker threads (0 = all cores)");
  add_device_options(cmd, args->device);
  cmd->callback([args] { run(*args); });
});

}  // namespace
}  // namespace strata::cli
