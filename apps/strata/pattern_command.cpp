// `strata pattern parse|allocate|maps|counts`: Megatron's hybrid pattern language, for people designing
// models. Human-readable by default; with --json, one JSON object on stdout.
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "command_registry.h"
#include "python_number.h"
#include "strata/schedule/allocation.h"
#include "strata/schedule/pattern.h"

namespace strata::cli {
namespace {

using ordered_json = nlohmann::ordered_json;
namespace sched = strata::schedule;

// Keys in Megatron's order for maps and counts.
ordered_json maps_json(const sched::LayerMaps& maps) {
  // Keys are unique and already in order: append to the object's vector directly (ordered_json's
  // operator[] searches the keys linearly, which made 32k-layer patterns quadratic).
  auto one = [](const std::map<int, int>& m) {
    ordered_json j = ordered_json::object();
    auto& entries = j.get_ref<ordered_json::object_t&>();
    entries.Container::reserve(m.size());
    for (const auto& [global, local] : m) entries.Container::emplace_back(std::to_string(global), local);
    return j;
  };
  return ordered_json{{"*", one(maps.attention)}, {"M", one(maps.mamba)}, {"-", one(maps.mlp)}, {"E", one(maps.moe)}};
}

void print_json(const ordered_json& j) {
  // error_handler replace: a pattern with invalid UTF-8 never reaches here (validation rejects it first),
  // but printing must not throw regardless.
  std::cout << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
}

struct PatternOptions {
  std::string pattern;
  std::string layers, attention_ratio = "0.0", mlp_ratio = "0.0", override_pattern;
  bool has_override = false;
  bool json = false;
};

void run_parse(const PatternOptions& o) {
  const sched::ParsedPattern parsed = sched::parse_pattern(o.pattern);
  auto value = [](const std::optional<std::string>& s) { return s ? ordered_json(*s) : ordered_json(nullptr); };
  if (o.json) {
    print_json({{"main", value(parsed.main)}, {"mtp", value(parsed.mtp)}, {"mtp_depths", parsed.mtp_depths}});
    return;
  }
  std::cout << "main:       " << (parsed.main ? "\"" + *parsed.main + "\"" : "None") << "\n"
            << "mtp:        " << (parsed.mtp ? "\"" + *parsed.mtp + "\"" : "None") << "\n"
            << "mtp_depths: " << parsed.mtp_depths << "\n";
}

void run_allocate(const PatternOptions& o) {
  const auto layers = static_cast<int>(parse_python_int(o.layers, "--layers", -1000000000, 1000000));
  const double attention = parse_python_float(o.attention_ratio, "--attention-ratio");
  const double mlp = parse_python_float(o.mlp_ratio, "--mlp-ratio");
  const std::string result = sched::allocate_layers(
      layers, attention, mlp, o.has_override ? std::optional<std::string_view>(o.override_pattern) : std::nullopt);
  if (o.json) {
    print_json({{"layers", result}});
  } else {
    std::cout << result << "\n";
  }
}

void run_maps(const PatternOptions& o) {
  const sched::LayerMaps maps = sched::layer_maps(o.pattern);
  if (o.json) {
    print_json(maps_json(maps));
    return;
  }
  auto line = [](const char* name, const std::map<int, int>& m) {
    std::cout << name << ":";
    for (const auto& [global, local] : m) std::cout << " " << global << "->" << local;
    std::cout << "\n";
  };
  line("attention (*)", maps.attention);
  line("mamba (M)", maps.mamba);
  line("mlp (-)", maps.mlp);
  line("moe (E)", maps.moe);
}

void run_counts(const PatternOptions& o) {
  const sched::LayerCounts c = sched::layer_counts(o.pattern);
  if (o.json) {
    print_json({{"M", c.mamba}, {"*", c.attention}, {"-", c.mlp}, {"E", c.moe}});
  } else {
    std::cout << "M " << c.mamba << "  * " << c.attention << "  - " << c.mlp << "  E " << c.moe << "\n";
  }
}

const CommandRegistration registration(20, [](CLI::App& app) {
  auto options = std::make_shared<PatternOptions>();
  CLI::App* pattern = app.add_subcommand("pattern", "Megatron-Core hybrid layer patterns (M * - E, / for MTP)");
  pattern->require_subcommand(1);

  CLI::App* parse = pattern->add_subcommand("parse", "Split a pattern into main and MTP parts");
  parse->add_option("PATTERN", options->pattern, "e.g. M*M*/MM/MM")->required();
  parse->add_flag("--json", options->json, "Print one JSON object");
  parse->callback([options] { run_parse(*options); });

  CLI::App* allocate = pattern->add_subcommand("allocate", "Place attention and MLP layers by ratio, as Megatron");
  allocate->add_option("--layers", options->layers, "Total number of layers")->required();
  allocate->add_option("--attention-ratio", options->attention_ratio, "Fraction of attention layers");
  allocate->add_option("--mlp-ratio", options->mlp_ratio, "Fraction of MLP layers");
  allocate->add_option("--override", options->override_pattern, "Override pattern checked against the ratios")
      ->each([options](const std::string&) { options->has_override = true; });
  allocate->add_flag("--json", options->json, "Print one JSON object");
  allocate->callback([options] { run_allocate(*options); });

  CLI::App* maps = pattern->add_subcommand("maps", "Global layer index -> index within its type");
  maps->add_option("PATTERN", options->pattern, "Layer types, e.g. M*M-")->required();
  maps->add_flag("--json", options->json, "Print one JSON object");
  maps->callback([options] { run_maps(*options); });

  CLI::App* counts = pattern->add_subcommand("counts", "Layers of each type, main + MTP x depth");
  counts->add_option("PATTERN", options->pattern, "e.g. M-M-M*-/MM/MM")->required();
  counts->add_flag("--json", options->json, "Print one JSON object");
  counts->callback([options] { run_counts(*options); });
});

}  // namespace
}  // namespace strata::cli
