// Subcommands of the `strata` CLI register themselves here, one file per subcommand, so adding a
// command never touches main.cpp. `order` fixes where it appears in --help.
#pragma once

#include <functional>
#include <vector>

#include <CLI/CLI.hpp>

namespace strata::cli {

// Thrown by a command that ends with a status other than 0, 1 or 2 after doing its part (Ctrl-C: 130).
struct ExitStatus {
  int status;
};

struct CommandRegistration {
  int order;
  std::function<void(CLI::App&)> add;  // adds the subcommand (and its callback) to the app
  CommandRegistration(int order, std::function<void(CLI::App&)> add);
};

const std::vector<const CommandRegistration*>& registered_commands();

}  // namespace strata::cli
