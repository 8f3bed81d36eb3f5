// Runs the built `strata` binary as a user would and captures its exit status, stdout and stderr.
#pragma once

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <unistd.h>

namespace strata::testing {

struct CliResult {
  int status = -1;  // exit status; 128+signal if killed by a signal
  std::string out, err;
};

// Quotes one argument for /bin/sh.
inline std::string shell_quote(const std::string& arg) {
  std::string q = "'";
  for (char c : arg) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// `args` is appended to the strata binary path; each element is one argument.
template <typename... Args>
CliResult run_strata(const Args&... args) {
  std::string command = shell_quote(STRATA_CLI);
  ((command += " " + shell_quote(std::string(args))), ...);
  char err_path[] = "/tmp/strata_cli_err_XXXXXX";
  const int fd = mkstemp(err_path);
  close(fd);
  command += " 2>" + std::string(err_path) + " </dev/null";
  CliResult result;
  FILE* pipe = popen(command.c_str(), "r");
  std::array<char, 4096> buffer{};
  size_t n;
  while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0) result.out.append(buffer.data(), n);
  const int raw = pclose(pipe);
  result.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : 128 + (WIFSIGNALED(raw) ? WTERMSIG(raw) : 0);
  std::ifstream err(err_path);
  std::stringstream ss;
  ss << err.rdbuf();
  result.err = ss.str();
  std::remove(err_path);
  return result;
}

}  // namespace strata::testing
