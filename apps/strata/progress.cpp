#include "progress.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string_view>

#include <fmt/format.h>

namespace strata::cli {

namespace {

// 19000 -> "19,000"
std::string grouped(int64_t n) {
  const std::string digits = std::to_string(n < 0 ? -n : n);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return n < 0 ? "-" + out : out;
}

}  // namespace

bool Progress::wanted(bool json) {
  if (json) return false;
  if (const char* forced = std::getenv("STRATA_PROGRESS"); forced != nullptr && *forced != '\0')
    return std::string_view(forced) != "0";
  return ::isatty(STDERR_FILENO) == 1;
}

Progress::Progress(std::string label, std::string unit, bool json)
    : label_(std::move(label)), unit_(std::move(unit)), enabled_(wanted(json)) {}

Progress::~Progress() { clear(); }

void Progress::update(int64_t done, int64_t total) {
  if (!enabled_) return;
  const auto now = std::chrono::steady_clock::now();
  if (drawn_ && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  drawn_ = true;
  std::string line = fmt::format("\r{} {}/{} {}", label_, grouped(done), grouped(total), unit_);
  if (total > 0) line += fmt::format(" ({}%)", done * 100 / total);
  line += "\x1b[K";  // erase what a longer earlier line left
  std::fputs(line.c_str(), stderr);
  std::fflush(stderr);
}

void Progress::clear() {
  if (!drawn_) return;
  drawn_ = false;
  std::fputs("\r\x1b[K", stderr);
  std::fflush(stderr);
}

}  // namespace strata::cli
