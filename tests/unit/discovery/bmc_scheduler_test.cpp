// BmcScheduler: the concurrency cap over all BMCs, one operation at a time per BMC, and the
// minimum interval between two operations on the same BMC.
#include "discovery/bmc_scheduler.hpp"

#include <boost/asio/steady_timer.hpp>
#include <gtest/gtest.h>

#include <map>
#include <vector>

namespace ironboot::discovery {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

TEST(BmcScheduler, CapsConcurrencyAndPacesEachBmc) {
  boost::asio::io_context io;
  BmcScheduler scheduler(io, 2, 100ms);
  int in_flight = 0, max_in_flight = 0, done = 0;
  std::map<std::string, std::vector<Clock::time_point>> starts;
  std::map<std::string, int> per_bmc_in_flight;
  for (int round = 0; round < 3; ++round) {
    for (const char* b : {"a", "b", "c", "d"}) {
      scheduler.submit(b, [&, b = std::string(b)](std::function<void()> finished) {
        starts[b].push_back(Clock::now());
        max_in_flight = std::max(max_in_flight, ++in_flight);
        EXPECT_EQ(++per_bmc_in_flight[b], 1) << "one operation at a time per BMC";
        auto t = std::make_shared<boost::asio::steady_timer>(io, 20ms);
        t->async_wait([&, t, b, finished](const boost::system::error_code&) {
          --in_flight;
          --per_bmc_in_flight[b];
          ++done;
          finished();
        });
      });
    }
  }
  io.run_for(5s);
  EXPECT_EQ(done, 12);
  EXPECT_EQ(max_in_flight, 2);
  for (const auto& [b, times] : starts) {
    ASSERT_EQ(times.size(), 3u) << b;
    for (std::size_t i = 1; i < times.size(); ++i)
      EXPECT_GE(times[i] - times[i - 1], 100ms) << b << " operation " << i << " came too soon";
  }
  EXPECT_EQ(scheduler.in_flight(), 0u);
}

TEST(BmcScheduler, ForgetDropsQueuedTasksAndStopStartsNothing) {
  boost::asio::io_context io;
  BmcScheduler scheduler(io, 1, 0ms);
  int ran = 0;
  std::function<void()> held;
  scheduler.submit("a", [&](std::function<void()> finished) {
    ++ran;
    held = finished;
  });
  scheduler.submit("a", [&](std::function<void()> finished) {
    ++ran;
    finished();
  });
  EXPECT_EQ(scheduler.queued("a"), 1u);
  scheduler.forget("a");
  held();
  io.run_for(50ms);
  EXPECT_EQ(ran, 1);
  scheduler.stop();
  scheduler.submit("b", [&](std::function<void()> finished) {
    ++ran;
    finished();
  });
  io.run_for(50ms);
  EXPECT_EQ(ran, 1);
}

}  // namespace
}  // namespace ironboot::discovery
