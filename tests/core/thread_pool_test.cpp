#include "strata/core/thread_pool.h"

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace strata {
namespace {

TEST(ThreadPool, CoversEveryIndexExactlyOnce) {
  for (int threads : {1, 2, 3, 5}) {
    ThreadPool pool(threads);
    for (int64_t n : {1, 2, 7, 1000}) {
      std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
      pool.parallel_for(n, [&](int64_t begin, int64_t end) {
        for (int64_t i = begin; i < end; ++i) hits[static_cast<size_t>(i)]++;
      });
      for (int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[static_cast<size_t>(i)].load(), 1) << threads << " " << n;
    }
  }
}

TEST(ThreadPool, NestedCallsRunInline) {
  ThreadPool pool(3);
  std::atomic<int64_t> total{0};
  pool.parallel_for(4, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i)
      pool.parallel_for(10, [&](int64_t b2, int64_t e2) { total += e2 - b2; });
  });
  EXPECT_EQ(total.load(), 40);
}

TEST(ThreadPool, ManyRapidDispatchesFromSeveralCallersStayExact) {
  // Back-to-back jobs exercise the spin handoff; two outside callers exercise serialisation; the pauses
  // let workers fall asleep so the sleep/wake path runs too.
  ThreadPool pool(3);
  std::atomic<int64_t> total{0};
  auto hammer = [&](int rounds) {
    for (int r = 0; r < rounds; ++r) {
      pool.parallel_for(7, [&](int64_t b, int64_t e) { total += e - b; });
      if (r % 500 == 0) std::this_thread::sleep_for(std::chrono::microseconds(300));
    }
  };
  std::thread other(hammer, 3000);
  hammer(3000);
  other.join();
  EXPECT_EQ(total.load(), int64_t{2} * 3000 * 7);
}

}  // namespace
}  // namespace strata
