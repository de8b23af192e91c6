#include "kube/heap_trim.hpp"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <algorithm>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

namespace ironboot::kube {
namespace {

constexpr std::size_t kMiB = 1 << 20;

// The heap is trimmed once per burst of writes, after an interval without one.
TEST(TrimPolicy, TrimsOnceAfterEachBurst) {
  const HeapSizes sizes{100 * kMiB, 60 * kMiB};
  TrimPolicy policy(5, sizes, 8 * kMiB);
  auto tick = [&](std::uint64_t rv) {
    const bool trim = policy.tick(rv, sizes);
    if (trim) policy.trimmed(rv, sizes);
    policy.saw(rv);
    return trim;
  };
  EXPECT_FALSE(tick(5)) << "nothing written since the start";
  EXPECT_FALSE(tick(9)) << "writes still coming";
  EXPECT_FALSE(tick(30));
  EXPECT_TRUE(tick(30)) << "the burst is over";
  EXPECT_FALSE(tick(30)) << "already trimmed";
  EXPECT_FALSE(tick(31));
  EXPECT_TRUE(tick(31));
}

// Work without writes (lists, the reconcile) dirties freed pages: once the resident size has
// grown by the threshold since the last trim, a quiet interval trims again.
TEST(TrimPolicy, TrimsAfterGrowthWithoutWrites) {
  TrimPolicy policy(7, {80 * kMiB, 50 * kMiB}, 8 * kMiB);
  EXPECT_FALSE(policy.tick(7, {87 * kMiB, 50 * kMiB})) << "grown, but less than the threshold";
  policy.saw(7);
  EXPECT_TRUE(policy.tick(7, {88 * kMiB, 50 * kMiB}));
  policy.trimmed(7, {82 * kMiB, 50 * kMiB});
  policy.saw(7);
  EXPECT_FALSE(policy.tick(7, {89 * kMiB, 50 * kMiB})) << "measured from the size after the last trim";
  EXPECT_TRUE(policy.tick(7, {90 * kMiB, 50 * kMiB}));
  policy.saw(7);
  EXPECT_FALSE(policy.quiet(8));
  EXPECT_FALSE(policy.tick(8, {120 * kMiB, 50 * kMiB})) << "writes are coming: not quiet";
}

// A trim in the middle of work that later frees what it held (trees parsed for a reconcile)
// leaves that memory resident: a heap in use smaller by the threshold trims again.
TEST(TrimPolicy, TrimsAfterTheHeapInUseShrank) {
  TrimPolicy policy(3, {150 * kMiB, 120 * kMiB}, 8 * kMiB);
  EXPECT_FALSE(policy.tick(3, {150 * kMiB, 113 * kMiB}));
  EXPECT_TRUE(policy.tick(3, {150 * kMiB, 112 * kMiB}));
}

// Runs the loop until `done` or 10 s have passed (the trims finish on another thread).
template <class Done>
void run_until(boost::asio::io_context& io, Done done) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!done() && std::chrono::steady_clock::now() < deadline) io.run_for(std::chrono::milliseconds(5));
}

// The trimmer trims at once on start and once after a burst of writes.
TEST(HeapTrimmer, TrimsOnStartAndAfterABurst) {
  boost::asio::io_context io;
  std::uint64_t rv = 1;
  HeapTrimmer trimmer(io, [&] { return rv; }, std::chrono::milliseconds(10), 1u << 30);
  trimmer.start();
  run_until(io, [&] { return trimmer.trims() == 1; });
  EXPECT_EQ(trimmer.trims(), 1u);
  const HeapSizes sizes = heap_sizes();
  EXPECT_GT(sizes.resident, kMiB);
  EXPECT_GT(sizes.in_use, 0u);
  EXPECT_LT(sizes.in_use, sizes.resident);
  rv = 2;  // a burst of writes, then quiet
  io.run_for(std::chrono::milliseconds(100));
  run_until(io, [&] { return !trimmer.busy(); });
  trimmer.stop();
  EXPECT_EQ(trimmer.trims(), 2u);
}

// The measuring and the trim run on the trimmer's thread, never on the event loop's, and one
// at a time: while a trim is held, the quiet intervals (each of which would trim: growth 0)
// start nothing, and the loop keeps running.
TEST(HeapTrimmer, TrimsOffTheLoopOneAtATime) {
  boost::asio::io_context io;
  const std::thread::id loop_thread = std::this_thread::get_id();
  std::mutex mu;
  std::condition_variable cv;
  bool release = false, on_loop = false;
  int started = 0, running = 0, most_running = 0;
  HeapOps ops{[&] {
                std::lock_guard lock(mu);
                on_loop = on_loop || std::this_thread::get_id() == loop_thread;
                return HeapSizes{100 * kMiB, 50 * kMiB};
              },
              [&] {
                std::unique_lock lock(mu);
                on_loop = on_loop || std::this_thread::get_id() == loop_thread;
                ++started;
                most_running = std::max(most_running, ++running);
                cv.wait(lock, [&] { return release; });
                --running;
              }};
  std::uint64_t rv = 1;
  HeapTrimmer trimmer(io, [&] { return rv; }, std::chrono::milliseconds(5), 0, ops);
  trimmer.start();
  int ticks = 0;
  boost::asio::steady_timer ticker(io);
  std::function<void()> tick = [&] {
    ++ticks;
    ticker.expires_after(std::chrono::milliseconds(5));
    ticker.async_wait([&](boost::system::error_code ec) {
      if (!ec) tick();
    });
  };
  tick();
  io.run_for(std::chrono::milliseconds(100));  // about 20 of the trimmer's intervals
  {
    std::lock_guard lock(mu);
    EXPECT_EQ(started, 1) << "the start's trim is held: no second one";
  }
  EXPECT_GT(ticks, 5) << "the loop ran during the trim";
  EXPECT_TRUE(trimmer.busy());
  EXPECT_EQ(trimmer.trims(), 0u) << "counted by the completion on the loop";
  {
    std::lock_guard lock(mu);
    release = true;
  }
  cv.notify_all();
  run_until(io, [&] { return trimmer.trims() >= 3; });
  trimmer.stop();
  ticker.cancel();
  run_until(io, [&] { return !trimmer.busy(); });
  std::lock_guard lock(mu);
  EXPECT_GE(trimmer.trims(), 3u);
  EXPECT_EQ(static_cast<std::uint64_t>(started), trimmer.trims());
  EXPECT_EQ(most_running, 1);
  EXPECT_FALSE(on_loop);
}

}  // namespace
}  // namespace ironboot::kube
