#include "strata/core/thread_pool.h"

#include <algorithm>
#include <chrono>
#include <system_error>

#include "strata/core/error.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace strata {

namespace {
thread_local bool in_pool_job = false;
int default_threads = 0;

inline void cpu_relax() {
#if defined(__x86_64__)
  _mm_pause();
#endif
}

// How long a worker keeps spinning for the next job before it sleeps.
constexpr auto kSpinTime = std::chrono::microseconds(100);

void run_block(const RangeFunction& fn, int64_t n, int index, int parts) {
  const int64_t begin = n * index / parts;
  const int64_t end = n * (index + 1) / parts;
  if (begin < end) fn(begin, end);
}
}  // namespace

ThreadPool::ThreadPool(int threads) {
  const int hardware = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  if (threads <= 0) threads = hardware;
  // More threads than the machine runs only adds switching; far more is a typo (--threads 100000).
  const int most = std::max(64, 4 * hardware);
  if (threads > most)
    fail("{} threads asked for, but this machine runs {} hardware threads; use at most {} (0 = all cores)", threads,
         hardware, most);
  try {
    for (int i = 1; i < threads; ++i) workers_.emplace_back([this, i] { worker_loop(i); });
  } catch (const std::system_error& e) {
    // The system refused a thread: stop the ones already running, then say so.
    {
      std::lock_guard<std::mutex> lock(sleep_mutex_);
      stop_.store(true);
    }
    wake_.notify_all();
    for (auto& w : workers_) w.join();
    fail("could not start thread {} of {}: {}", workers_.size() + 1, threads, e.what());
  }
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(sleep_mutex_);
    stop_.store(true);
  }
  wake_.notify_all();
  for (auto& w : workers_) w.join();
}

void ThreadPool::parallel_for(int64_t n, RangeFunction fn) {
  if (n <= 0) return;
  if (workers_.empty() || n == 1 || in_pool_job) {
    fn(0, n);
    return;
  }
  std::lock_guard<std::mutex> dispatch(dispatch_mutex_);
  job_storage_ = fn;  // the workers read the pool's copy, not the caller's stack
  job_ = &job_storage_;
  job_n_ = n;
  pending_.store(static_cast<int>(workers_.size()), std::memory_order_relaxed);
  generation_.fetch_add(1, std::memory_order_seq_cst);  // publishes job_ and job_n_
  if (sleepers_.load(std::memory_order_seq_cst) > 0) {
    std::lock_guard<std::mutex> lock(sleep_mutex_);
    wake_.notify_all();
  }
  in_pool_job = true;
  run_block(fn, n, 0, size());
  in_pool_job = false;
  while (pending_.load(std::memory_order_acquire) != 0) cpu_relax();
  job_ = nullptr;
}

void ThreadPool::worker_loop(int index) {
  in_pool_job = true;
  uint64_t seen = 0;
  for (;;) {
    uint64_t current = generation_.load(std::memory_order_acquire);
    if (current == seen) {
      // Spin for the next job, then sleep until one is published.
      const auto until = std::chrono::steady_clock::now() + kSpinTime;
      int spins = 0;
      while ((current = generation_.load(std::memory_order_acquire)) == seen && !stop_.load(std::memory_order_relaxed)) {
        cpu_relax();
        if (++spins % 256 == 0 && std::chrono::steady_clock::now() > until) break;
      }
      if (current == seen) {
        std::unique_lock<std::mutex> lock(sleep_mutex_);
        sleepers_.fetch_add(1, std::memory_order_seq_cst);
        wake_.wait(lock, [&] { return stop_.load() || generation_.load(std::memory_order_seq_cst) != seen; });
        sleepers_.fetch_sub(1, std::memory_order_seq_cst);
        current = generation_.load(std::memory_order_acquire);
      }
    }
    if (stop_.load()) return;
    seen = current;
    run_block(*job_, job_n_, index, size());
    pending_.fetch_sub(1, std::memory_order_release);
  }
}

ThreadPool& ThreadPool::global() {
  static ThreadPool pool(default_threads);
  return pool;
}

void ThreadPool::set_default_threads(int threads) { default_threads = threads; }

}  // namespace strata
