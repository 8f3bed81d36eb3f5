// ThreadPool: a fixed set of workers for data-parallel kernels (parallel_for over an index range).
// Work is split into contiguous blocks, one per thread, so each thread streams its own memory.
// The calling thread takes part; a pool of 1 runs inline with no synchronisation.
//
// Dispatch is built for latency: a decode step calls parallel_for hundreds of times, so workers spin
// briefly on an atomic generation counter before sleeping, and the caller spins for completion. Idle
// workers fall asleep after about 100 µs, so an idle engine costs no CPU.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace strata {

class ThreadPool {
 public:
  // threads <= 0 means one per hardware thread.
  explicit ThreadPool(int threads = 0);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return static_cast<int>(workers_.size()) + 1; }

  // Calls fn(begin, end) on disjoint sub-ranges covering [0, n), at most one per thread, and waits.
  // fn must not throw. Nested calls from inside fn run inline. Calls from several outside threads are
  // serialised.
  void parallel_for(int64_t n, const std::function<void(int64_t, int64_t)>& fn);

  // A process-wide pool sized by set_default_threads (defaults to all hardware threads).
  static ThreadPool& global();
  static void set_default_threads(int threads);

 private:
  void worker_loop(int index);

  std::vector<std::thread> workers_;
  std::mutex dispatch_mutex_;  // one parallel_for at a time
  std::mutex sleep_mutex_;
  std::condition_variable wake_;
  const std::function<void(int64_t, int64_t)>* job_ = nullptr;  // published by generation_
  int64_t job_n_ = 0;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> pending_{0};
  std::atomic<int> sleepers_{0};
  std::atomic<bool> stop_{false};
};

}  // namespace strata
