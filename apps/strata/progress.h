// One line of progress on stderr for long work (prefill of a long prompt, perplexity windows, bench runs):
// drawn only when stderr is a terminal and never for a command printing --json, redrawn in place with
// '\r' at most ten times a second, and erased when the work ends, so it never mixes with the output.
// STRATA_PROGRESS=1 forces it on even when stderr is not a terminal (tests), STRATA_PROGRESS=0 turns it off.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace strata::cli {

class Progress {
 public:
  // Draws "LABEL DONE/TOTAL UNIT (P%)", e.g. "prefill 1,024/19,000 tokens (5%)". `json`: the command
  // prints JSON, so nothing is drawn.
  Progress(std::string label, std::string unit, bool json = false);
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  // Redraws the line if a tenth of a second has passed since the last drawing (the first is drawn at once).
  void update(int64_t done, int64_t total);
  // Erases the line (if one was drawn); later updates draw again.
  void clear();
  bool enabled() const { return enabled_; }

  // Whether progress is shown at all: STRATA_PROGRESS if set, else whether stderr is a terminal; never
  // with `json`.
  static bool wanted(bool json);

 private:
  std::string label_, unit_;
  bool enabled_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point last_draw_{};
};

}  // namespace strata::cli
