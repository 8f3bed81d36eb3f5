// `strata info MODEL_DIR [--context N] [--json]`: what a checkpoint is — family, layer pattern, parameter
// count, tensor dtypes — and what serving it costs: state per sequence and KV per token.
#include <algorithm>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "command_registry.h"
#include "model_dir.h"
#include "strata/io/gguf.h"
#include "strata/cache/sequence_cache.h"
#include "strata/core/error.h"
#include "strata/io/safetensors_model.h"
#include "strata/model/families/family.h"
#include "strata/model/model.h"
#include "strata/schedule/memory_plan.h"

namespace strata::cli {
namespace {

struct InfoArgs {
  std::string model_dir;
  int64_t context = 4096;
  bool json = false;
};

void run(const InfoArgs& a) {
  if (a.context <= 0) fail("--context must be positive, got {}", a.context);
  const auto model = model::Model::load(checked_model_dir(a.model_dir));
  const model::ModelConfig& c = model->config();
  std::map<std::string, int64_t> dtype_elements;  // bytes per stored type, as the file names it
  if (io::is_gguf_file(a.model_dir)) {
    const auto file = io::GgufFile::open(a.model_dir);
    for (const io::GgufTensorInfo& t : file.tensors())
      dtype_elements[std::string(io::ggml_type_name(t.type))] += static_cast<int64_t>(t.bytes);
  } else {
    const auto weights = io::SafetensorsModel::open(a.model_dir);
    for (const std::string& name : weights.names())
      dtype_elements[weights.info(name).dtype_name] +=
          static_cast<int64_t>(weights.info(name).data_end - weights.info(name).data_begin);
  }
  schedule::ModelDims dims = c.dims;
  const cache::CacheOptions engine;  // what the engine's cache allocates (exact parity; bf16 KV halves it)
  dims.state_dtype = engine.state_dtype;
  dims.cache_dtype = engine.kv_dtype;
  const schedule::MemoryPlan plan = schedule::plan_memory(c.schedule, dims, a.context, 1, std::nullopt);
  std::string pattern;
  try {
    pattern = schedule::schedule_to_pattern(c.schedule);
  } catch (const Error&) {
    pattern = "(not expressible as a Megatron pattern)";
  }
  // Zamba2's shared blocks: weights counted once in `parameters`, KV kept per using layer.
  std::vector<std::vector<int>> shared_users(static_cast<size_t>(std::max<int64_t>(c.shared_blocks.count, 0)));
  for (const schedule::LayerSpec& l : c.schedule.layers)
    if (l.shared_block >= 0 && l.shared_block < static_cast<int>(shared_users.size()))
      shared_users[static_cast<size_t>(l.shared_block)].push_back(l.index);
  if (a.json) {
    nlohmann::ordered_json j;
    j["family"] = std::string(c.family->model_type);
    j["pattern"] = pattern;
    j["layers"] = c.schedule.main_layer_count();
    j["parameters"] = model->parameter_count();
    if (!shared_users.empty()) {
      nlohmann::ordered_json blocks = nlohmann::ordered_json::array();
      for (const auto& users : shared_users) blocks.push_back({{"used_by_layers", users}});
      j["shared_blocks"] = blocks;
    }
    nlohmann::ordered_json bytes = nlohmann::ordered_json::object();
    for (const auto& [dtype, n] : dtype_elements) bytes[dtype] = n;
    j["tensor_bytes_by_dtype"] = bytes;
    j["identity"] = model->identity();
    j["memory"] = schedule::plan_to_json(plan);
    std::cout << j.dump(2) << "\n";
    return;
  }
  std::cout << fmt::format("model        {}\n", a.model_dir);
  std::cout << fmt::format("family       {}\n", c.family->model_type);
  std::cout << fmt::format("pattern      {} ({} layers)\n", pattern, c.schedule.main_layer_count());
  std::cout << fmt::format("parameters   {}\n", model->parameter_count());
  for (size_t b = 0; b < shared_users.size(); ++b)
    std::cout << fmt::format("shared block {} used by layers {} (weights once, KV per use)\n", b,
                             fmt::join(shared_users[b], ", "));
  std::cout << "tensor bytes";
  for (const auto& [dtype, n] : dtype_elements) std::cout << fmt::format("  {} {}", dtype, n);
  std::cout << fmt::format("\nhidden {}  vocab {}", c.dims.hidden_size, c.dims.vocab_size);
  if (c.dims.mamba.n_heads)
    std::cout << fmt::format("  mamba H={} P={} N={} G={} K={} chunk={}", c.dims.mamba.n_heads, c.dims.mamba.head_dim,
                             c.dims.mamba.state_size, c.dims.mamba.n_groups, c.dims.mamba.conv_kernel,
                             c.dims.mamba.chunk_size);
  if (c.dims.attention.n_heads)
    std::cout << fmt::format("  attention q={} kv={} hd={}", c.dims.attention.n_heads, c.dims.attention.n_kv_heads,
                             c.dims.attention.head_dim);
  std::cout << "\n\nmemory plan (f32 state and KV, one sequence):\n" << schedule::format_plan(plan);
}

const CommandRegistration registration(15, [](CLI::App& app) {
  auto args = std::make_shared<InfoArgs>();
  CLI::App* cmd = app.add_subcommand("info", "Describe a model directory: family, pattern, parameters, memory");
  cmd->add_option("MODEL_DIR", args->model_dir, "Hugging Face model directory or GGUF file")->required();
  cmd->add_option("--context", args->context, "context length for the memory figures");
  cmd->add_flag("--json", args->json, "Print one JSON object");
  cmd->callback([args] { run(*args); });
});

}  // namespace
}  // namespace strata::cli
