// Runs the built `strata` binary as a user would and captures its exit status, stdout and stderr.
#pragma once

#include <sys/wait.h>

#include <gtest/gtest.h>

#include <algorithm>
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

// Runs `sh -c COMMAND` from the repository root (so relative paths like examples/... work), capturing
// stdout, stderr (through a unique file: ctest runs tests in parallel processes) and the exit status.
inline CliResult run_shell(const std::string& shell_command) {
  std::string command = "cd " + shell_quote(STRATA_SOURCE_DIR) + " && " + shell_command;
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

// `args` is appended to the strata binary path; each element is one argument.
template <typename... Args>
CliResult run_strata(const Args&... args) {
  std::string command = shell_quote(STRATA_CLI);
  // append, not " " + string: GCC 12's -Wrestrict misfires on `literal + std::string&&` once inlined.
  ((command.append(" ").append(shell_quote(std::string(args)))), ...);
  return run_shell(command);
}

// `strata SUBCOMMAND` followed by shell words written by the caller (quoting included).
inline CliResult run_strata_words(const std::string& subcommand, const std::string& shell_words) {
  return run_shell(shell_quote(STRATA_CLI) + " " + subcommand + " " + shell_words);
}

// Bad input: exit status 2, exactly one line on stderr starting "error: " and containing `part`, and
// nothing on stdout.
inline void expect_one_line_error(const CliResult& r, const std::string& part) {
  EXPECT_EQ(r.status, 2) << r.out << r.err;
  EXPECT_TRUE(r.err.starts_with("error: ")) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_NE(r.err.find(part), std::string::npos) << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;
}

}  // namespace strata::testing
