// Metrics: what GET /metrics reports, in Prometheus' text format — request counts by endpoint and
// status, prompt/generated tokens, prefix-reuse hits and tokens saved, queue depth and running
// sequences (read from the engine at scrape time), and time-to-first-token and inter-token latency
// histograms. Every update is thread-safe; handlers record, the scrape formats.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace strata::server {

class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void observe(double value);
  // Prometheus lines for `name` (buckets cumulative, then _sum and _count).
  std::string format(const std::string& name, const std::string& help) const;

 private:
  std::vector<double> bounds_;
  mutable std::mutex mutex_;
  std::vector<uint64_t> counts_;  // per bucket (the last is +Inf)
  double sum_ = 0;
  uint64_t count_ = 0;
};

struct EngineGauges {
  int64_t running = 0, queued = 0, free_slots = 0;
  int64_t free_kv_blocks = -1, total_kv_blocks = -1;
  int64_t prompt_tokens_reused = 0, prompt_tokens_computed = 0, generated_tokens = 0;
};

class Metrics {
 public:
  Metrics();
  void count_request(const std::string& endpoint, int status);
  void count_tokens(int64_t prompt, int64_t generated, int64_t reused);
  Histogram& time_to_first_token() { return ttft_; }
  Histogram& inter_token() { return inter_token_; }
  std::string format(const EngineGauges& engine) const;

 private:
  mutable std::mutex mutex_;
  std::map<std::pair<std::string, int>, uint64_t> requests_;
  std::atomic<int64_t> prompt_tokens_{0}, generated_tokens_{0}, reused_tokens_{0}, reuse_hits_{0};
  Histogram ttft_, inter_token_;
};

}  // namespace strata::server
