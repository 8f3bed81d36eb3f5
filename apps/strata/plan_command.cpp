// `strata plan`: the cache memory a model needs for a context length and a number of sequences, from a
// preset, a Hugging Face config.json or a Megatron pattern plus dimension flags, without loading weights.
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "command_registry.h"
#include "strata/cache/sequence_cache.h"
#include "strata/core/error.h"
#include "strata/model/hf_config.h"
#include "strata/schedule/hf_schedule.h"
#include "strata/schedule/memory_plan.h"
#include "strata/schedule/presets.h"

namespace strata::cli {
namespace {

using namespace strata::schedule;

struct DimFlag {
  const char* name;
  const char* help;
  int64_t ModelDims::*top = nullptr;
  int64_t MambaDims::*mamba = nullptr;
  int64_t AttentionDims::*attention = nullptr;
  int64_t value = 0;
  CLI::Option* option = nullptr;
};

struct PlanArgs {
  std::string preset, config, pattern;
  int64_t context = 8192;
  int64_t sequences = 1;
  double budget_gib = 0;
  std::string state_dtype, cache_dtype;
  bool json = false;
  CLI::Option* budget = nullptr;
  CLI::Option *preset_option = nullptr, *config_option = nullptr, *pattern_option = nullptr;
  DimFlag dims[13] = {
      {"--hidden-size", "model width", &ModelDims::hidden_size},
      {"--vocab-size", "vocabulary size", &ModelDims::vocab_size},
      {"--mamba-heads", "Mamba2 heads H", nullptr, &MambaDims::n_heads},
      {"--mamba-head-dim", "Mamba2 head dim P", nullptr, &MambaDims::head_dim},
      {"--mamba-state", "Mamba2 state size N", nullptr, &MambaDims::state_size},
      {"--mamba-groups", "Mamba2 groups G", nullptr, &MambaDims::n_groups},
      {"--conv-kernel", "Mamba2 conv kernel K", nullptr, &MambaDims::conv_kernel},
      {"--chunk-size", "Mamba2 SSD chunk size", nullptr, &MambaDims::chunk_size},
      {"--attention-heads", "attention query heads", nullptr, nullptr, &AttentionDims::n_heads},
      {"--kv-heads", "attention key/value heads", nullptr, nullptr, &AttentionDims::n_kv_heads},
      {"--head-dim", "attention head dim", nullptr, nullptr, &AttentionDims::head_dim},
      {"--shared-kv-width", "width of a shared K=V cache entry (DeepSeek-V4: 512); 0 = K and V per kv head",
       nullptr, nullptr, &AttentionDims::shared_kv_width},
      {"--indexer-key-width", "lightning-indexer key width on sparse compressed layers (DeepSeek-V4: 128)",
       nullptr, nullptr, &AttentionDims::indexer_key_width},
  };
};

struct Model {
  std::string source;  // what the user named, for the header
  std::string description;
  Schedule schedule;
  ModelDims dims;
};

// A config or pattern is planned as strata would run it: the state and KV dtypes the engine's cache
// allocates (cache::CacheOptions' defaults, which `info` shows too). Presets keep their own.
void use_engine_dtypes(ModelDims& dims) {
  const cache::CacheOptions engine;
  dims.state_dtype = engine.state_dtype;
  dims.cache_dtype = engine.kv_dtype;
}

Model resolve_model(const PlanArgs& args) {
  Model model;
  if (args.preset_option->count() > 0) {
    Preset preset = make_preset(args.preset);
    model = {"preset " + preset.name, preset.description, std::move(preset.schedule), preset.dims};
  } else if (args.config_option->count() > 0) {
    HfModel hf = model::load_hf_config(args.config);
    model = {"config " + args.config, "model_type " + hf.model_type, std::move(hf.schedule), hf.dims};
    use_engine_dtypes(model.dims);
  } else if (args.pattern_option->count() > 0) {
    model = {"pattern " + args.pattern, "Megatron hybrid pattern", schedule_from_pattern(args.pattern), {}};
    use_engine_dtypes(model.dims);
  } else {
    fail("plan needs a model: --preset NAME ({}), --config PATH or --pattern P", fmt::join(preset_names(), ", "));
  }
  for (const DimFlag& flag : args.dims) {
    if (!flag.option || flag.option->count() == 0) continue;
    if (flag.value < 0) fail("{} is {}; expected a non-negative number", flag.name, flag.value);
    if (flag.top) model.dims.*flag.top = flag.value;
    if (flag.mamba) model.dims.mamba.*flag.mamba = flag.value;
    if (flag.attention) model.dims.attention.*flag.attention = flag.value;
  }
  if (!args.state_dtype.empty()) model.dims.state_dtype = parse_dtype(args.state_dtype);
  if (!args.cache_dtype.empty()) model.dims.cache_dtype = parse_dtype(args.cache_dtype);
  return model;
}

void run_plan(const PlanArgs& args) {
  const Model model = resolve_model(args);
  std::optional<int64_t> budget;
  if (args.budget && args.budget->count() > 0) {
    const double bytes = args.budget_gib * 1024.0 * 1024.0 * 1024.0;
    if (!std::isfinite(bytes) || bytes < 1.0 || bytes >= 9.0e18)
      fail("--budget-gib {} is out of range; expected a positive number of GiB below 8 EiB", args.budget_gib);
    budget = static_cast<int64_t>(bytes);
  }
  const MemoryPlan plan = plan_memory(model.schedule, model.dims, args.context, args.sequences, budget);
  const int mtp_layers = model.schedule.size() - model.schedule.main_layer_count();
  if (args.json) {
    nlohmann::json out = plan_to_json(plan);
    out["source"] = model.source;
    out["description"] = model.description;
    out["main_layer_count"] = model.schedule.main_layer_count();
    out["mtp_layer_count"] = mtp_layers;
    out["mtp_depths"] = model.schedule.mtp_depths();
    std::printf("%s\n", out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    return;
  }
  std::printf("%s: %s\n", model.source.c_str(), model.description.c_str());
  if (mtp_layers > 0)
    std::printf("layers: %d main + %d MTP (MTP depths: %d); MTP layers are shown separately below and included "
                "in the totals\n\n",
                model.schedule.main_layer_count(), mtp_layers, model.schedule.mtp_depths());
  else
    std::printf("layers: %d, no MTP\n\n", model.schedule.main_layer_count());
  std::printf("%s", format_plan(plan).c_str());
}

CommandRegistration registration(20, [](CLI::App& app) {
  auto args = std::make_shared<PlanArgs>();
  CLI::App* plan = app.add_subcommand("plan", "Cache memory per sequence and per token for a model, without weights");
  auto* preset = plan->add_option("--preset", args->preset, "a named model: dsv4-flash, dsv4-pro, nemotron-h-8b");
  auto* config = plan->add_option("--config", args->config, "a Hugging Face config.json (nemotron_h, mamba2)");
  auto* pattern = plan->add_option("--pattern", args->pattern, "a Megatron hybrid pattern, e.g. 'M-M*-/M*' (needs dims)");
  args->preset_option = preset;
  args->config_option = config;
  args->pattern_option = pattern;
  preset->excludes(config, pattern);
  config->excludes(preset, pattern);
  pattern->excludes(preset, config);
  for (DimFlag& flag : args->dims) flag.option = plan->add_option(flag.name, flag.value, flag.help);
  plan->add_option("--context", args->context, "context length in tokens per sequence (default 8192)");
  plan->add_option("--sequences", args->sequences, "concurrent sequences (default 1)");
  args->budget = plan->add_option("--budget-gib", args->budget_gib, "cache memory budget in GiB: how many sequences fit");
  plan->add_option("--state-dtype", args->state_dtype, "Mamba2 state / compressor ring dtype: f32 (default) or bf16");
  plan->add_option("--cache-dtype", args->cache_dtype, "attention cache dtype: f32 or bf16 (default: the engine's, f32, for --config and --pattern; the preset's own)");
  plan->add_flag("--json", args->json, "one JSON object instead of the table");
  plan->callback([args] { run_plan(*args); });
});

}  // namespace
}  // namespace strata::cli
