// The `strata` command line: one subcommand per job (pattern, plan, run, bench, ...).
// Exit status: 0 success, 2 bad input (one `error: ...` line on stderr), 1 internal failure.
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>
#include <functional>
#include <iostream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "command_registry.h"
#include "one_line.h"
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

// The deepest subcommand the user selected, and its path ("strata run").
CLI::App* selected_command(CLI::App& app, std::string& path) {
  CLI::App* deepest = &app;
  path = "strata";
  for (auto selected = deepest->get_subcommands(); !selected.empty(); selected = deepest->get_subcommands()) {
    deepest = selected.front();
    path += " " + deepest->get_name();
  }
  return deepest;
}

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = up;
    }
  }
  return row[b.size()];
}

// CLI11 says only "The following arguments were not expected"; name the command and, for a mistyped
// option, the nearest one it has.
std::string explain_extras(CLI::App& app, const CLI::ExtrasError& e) {
  std::string path;
  CLI::App* command = selected_command(app, path);
  std::vector<std::string> extras = command->remaining();
  if (extras.empty()) extras = app.remaining();
  if (extras.empty()) return e.what();
  const std::string typed = extras.front();
  if (typed.size() < 2 || typed[0] != '-') return "unexpected argument '" + typed + "' for '" + path + "'";
  const std::string name = typed.substr(0, typed.find('='));
  std::string best;
  size_t best_distance = SIZE_MAX;
  for (const CLI::Option* option : command->get_options()) {
    for (const std::string& l : option->get_lnames()) {
      const std::string candidate = "--" + l;
      const size_t d = edit_distance(name, candidate);
      if (d < best_distance) best_distance = d, best = candidate;
    }
  }
  std::string message = "unknown option '" + name + "' for '" + path + "'";
  if (!best.empty() && best_distance <= std::max<size_t>(2, name.size() / 3)) message += " (did you mean '" + best + "'?)";
  return message + "; see '" + path + " --help'";
}
}  // namespace

}  // namespace strata::cli

int main(int argc, char** argv) {
  CLI::App app{"strata: fast inference for hybrid Mamba2 / attention / MLP / MoE language models"};
  app.require_subcommand(1);
  // Every option's default shows in --help (subcommands inherit this).
  app.option_defaults()->always_capture_default();
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
    std::fprintf(stderr, "error: %s\n", strata::cli::one_line(message).c_str());
    return 2;
  } catch (const strata::cli::ExitStatus& e) {
    return e.status;
  } catch (const CLI::ExtrasError& e) {
    std::fprintf(stderr, "error: %s\n", strata::cli::one_line(strata::cli::explain_extras(app, e)).c_str());
    return 2;
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "error: %s\n", strata::cli::one_line(e.what()).c_str());
    return 2;
  } catch (const strata::Error& e) {
    std::fprintf(stderr, "error: %s\n", strata::cli::one_line(e.what()).c_str());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "internal error: %s\n", strata::cli::one_line(e.what()).c_str());
    return 1;
  }
  // Output that never arrived (stdout on a full disk or /dev/full) is a failure, not a success.
  std::cout.flush();
  if (!std::cout || std::fflush(stdout) != 0 || std::ferror(stdout)) {
    const int error = errno;
    std::fprintf(stderr, "error: cannot write to standard output: %s\n", error ? std::strerror(error) : "write failed");
    return 2;
  }
  return 0;
}
