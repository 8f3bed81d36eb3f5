// A thread count far past the hardware (--threads 100000) is refused with the numbers, before any
// thread starts; counts within the bound still work.
#include <gtest/gtest.h>

#include <string>
#include <atomic>
#include <thread>

#include "strata/core/error.h"
#include "strata/core/thread_pool.h"

namespace strata {
namespace {

TEST(ThreadPoolHostile, AbsurdThreadCountsAreRefused) {
  try {
    ThreadPool pool(100000);
    FAIL() << "100000 threads were started";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("100000 threads asked for"), std::string::npos) << message;
    EXPECT_NE(message.find("hardware threads"), std::string::npos) << message;
  }
}

TEST(ThreadPoolHostile, CountsUpToTheBoundStillRun) {
  ThreadPool pool(8);
  EXPECT_EQ(pool.size(), 8);
  std::atomic<int64_t> sum{0};
  pool.parallel_for(1000, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) sum += i;
  });
  EXPECT_EQ(sum.load(), 999 * 1000 / 2);
}

}  // namespace
}  // namespace strata
