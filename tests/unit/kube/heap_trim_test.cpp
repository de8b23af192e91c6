#include "kube/heap_trim.hpp"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>

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

// The trimmer trims at once on start and once after a burst of writes.
TEST(HeapTrimmer, TrimsOnStartAndAfterABurst) {
  boost::asio::io_context io;
  std::uint64_t rv = 1;
  HeapTrimmer trimmer(io, [&] { return rv; }, std::chrono::milliseconds(10), 1u << 30);
  trimmer.start();
  EXPECT_EQ(trimmer.trims(), 1u);
  const HeapSizes sizes = heap_sizes();
  EXPECT_GT(sizes.resident, kMiB);
  EXPECT_GT(sizes.in_use, 0u);
  EXPECT_LT(sizes.in_use, sizes.resident);
  rv = 2;  // a burst of writes, then quiet
  io.run_for(std::chrono::milliseconds(100));
  trimmer.stop();
  EXPECT_EQ(trimmer.trims(), 2u);
}

}  // namespace
}  // namespace ironboot::kube
