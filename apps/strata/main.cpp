// The `strata` command line: one subcommand per job (pattern, plan, run, bench, ...).
// Exit status: 0 success, 2 bad input (one `error: ...` line on stderr), 1 internal failure.
#include <algorithm>
#include <cstdio>
#include <exception>
#include <functional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "command_registry.h"
#include "version.h"
#include "strata/core/error.h"

namespace strata::cli {

namespace {
std::vector<const CommandRegistration*>& registry() {
  static std::vector<const CommandRegistration*> commands;
  return commands;
}
}  // namespace

CommandRegistration::CommandRegistration(int order_, std::function<void(CLI::App&)> add_)
    : order(order_), add(std::move(add_)) {
  registry().push_back(this);
}

const std::vector<const CommandRegistration*>& registered_commands() { return registry(); }

namespace {
// CLI11's "A subcommand is required" names neither the command nor what was typed; say both.
std::string explain_missing_subcommand(CLI::App& app) {
  CLI::App* deepest = &app;
  std::string path = "strata";
  for (;;) {
    auto selected = deepest->get_subcommands();
    if (selected.empty()) break;
    deepest = selected.front();
    path += " " + deepest->get_name();
  }
  std::string choices;
  for (const CLI::App* sub : deepest->get_subcommands({})) choices += (choices.empty() ? "" : ", ") + sub->get_name();
  const std::vector<std::string> extra = deepest->remaining();
  if (!extra.empty()) return "unknown command '" + extra.front() + "' for '" + path + "' (expected one of: " + choices + ")";
  return "'" + path + "' needs a command: " + choices;
}
}  // namespace

}  // namespace strata::cli

int main(int argc, char** argv) {
  CLI::App app{"strata: fast inference for hybrid Mamba2 / attention / MLP / MoE language models"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::function<std::string()>(strata::cli::version_text),
                       "Print the version, git revision and backends");
  auto commands = strata::cli::registered_commands();
  std::sort(commands.begin(), commands.end(), [](auto* a, auto* b) { return a->order < b->order; });
  for (const auto* command : commands) command->add(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::RequiredError& e) {
    const std::string message = std::string(e.what()).find("subcommand") != std::string::npos
                                    ? strata::cli::explain_missing_subcommand(app)
                                    : e.what();
    std::fprintf(stderr, "error: %s\n", message.c_str());
    return 2;
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 2;
  } catch (const strata::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "internal error: %s\n", e.what());
    return 1;
  }
  return 0;
}
