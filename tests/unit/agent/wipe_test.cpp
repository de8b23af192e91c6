#include "agent/wipe.hpp"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

#include "agent/sysfs.hpp"

namespace ironboot::agent {
namespace {

// Remembers what was written or discarded; discard can be made unsupported.
class FakeDevice final : public BlockDevice {
 public:
  FakeDevice(std::uint64_t size, bool discard_ok) : size_(size), discard_ok_(discard_ok) {}
  std::uint64_t size() const override { return size_; }
  std::string write_zeros(std::uint64_t off, std::uint64_t len) override {
    if (off + len > size_) return "past end";
    zeroed.push_back({off, len});
    return "";
  }
  std::string discard(std::uint64_t off, std::uint64_t len) override {
    if (!discard_ok_) return "BLKDISCARD: Operation not supported";
    discarded.push_back({off, len});
    return "";
  }
  std::string flush() override {
    ++flushes;
    return "";
  }
  std::vector<ByteRange> zeroed, discarded;
  int flushes = 0;

 private:
  std::uint64_t size_;
  bool discard_ok_;
};

std::uint64_t covered(const std::vector<ByteRange>& v) {
  std::uint64_t n = 0;
  for (auto& r : v) n += r.length;
  return n;
}

TEST(WipePlan, FirstAndLast16MiBAndBtrfsMirrors) {
  const std::uint64_t size = 500ull * 1024 * kMiB;  // 500 GiB
  auto r = fast_wipe_ranges(size);
  ASSERT_EQ(r.size(), 4u);
  EXPECT_EQ(r[0], (ByteRange{0, 16 * kMiB}));
  EXPECT_EQ(r[1], (ByteRange{64 * kMiB, 4096}));
  EXPECT_EQ(r[2], (ByteRange{256ull * 1024 * kMiB, 4096}));
  EXPECT_EQ(r[3], (ByteRange{size - 16 * kMiB, 16 * kMiB}));
}

TEST(WipePlan, SmallDevicesAreClippedAndMerged) {
  EXPECT_EQ(fast_wipe_ranges(20 * kMiB), (std::vector<ByteRange>{{0, 20 * kMiB}}));
  EXPECT_EQ(fast_wipe_ranges(4096), (std::vector<ByteRange>{{0, 4096}}));
  EXPECT_TRUE(fast_wipe_ranges(0).empty());
  auto r = fast_wipe_ranges(70 * kMiB);  // the 64 MiB mirror falls in the last 16 MiB
  EXPECT_EQ(r, (std::vector<ByteRange>{{0, 16 * kMiB}, {54 * kMiB, 16 * kMiB}}));
}

TEST(Wipe, FastZeroesTheEdgesWithProgress) {
  FakeDevice dev(1024 * kMiB, true);
  std::vector<std::uint64_t> progress;
  auto out = wipe_device(dev, "fast", [&](std::uint64_t done, std::uint64_t total) {
    progress.push_back(done);
    EXPECT_EQ(total, 32 * kMiB + 4096);
  }, 8 * kMiB);
  EXPECT_EQ(out.error, "");
  EXPECT_EQ(out.method, "zero");
  EXPECT_EQ(covered(dev.zeroed), 32 * kMiB + 4096);
  EXPECT_TRUE(dev.discarded.empty());
  EXPECT_EQ(dev.flushes, 1);
  ASSERT_FALSE(progress.empty());
  EXPECT_EQ(progress.back(), 32 * kMiB + 4096);
}

TEST(Wipe, FullDiscardsEverythingThenZeroesTheEdges) {
  FakeDevice dev(200 * kMiB, true);
  std::uint64_t last_done = 0, last_total = 0;
  auto out = wipe_device(dev, "full", [&](std::uint64_t d, std::uint64_t t) {
    EXPECT_GE(d, last_done);
    last_done = d;
    last_total = t;
  }, 64 * kMiB);
  EXPECT_EQ(out.error, "");
  EXPECT_EQ(out.method, "discard");
  EXPECT_EQ(covered(dev.discarded), 200 * kMiB);
  EXPECT_EQ(covered(dev.zeroed), 32 * kMiB + 4096);
  EXPECT_EQ(last_done, last_total);
}

TEST(Wipe, FullFallsBackToZeroFill) {
  FakeDevice dev(100 * kMiB, false);
  auto out = wipe_device(dev, "full", nullptr, 16 * kMiB);
  EXPECT_EQ(out.error, "");
  EXPECT_EQ(out.method, "zero-fill");
  EXPECT_EQ(covered(dev.zeroed), 100 * kMiB);
  EXPECT_EQ(dev.zeroed.back().offset + dev.zeroed.back().length, 100 * kMiB);
}

TEST(Wipe, Eligibility) {
  Disk d;
  d.type = "SSD";
  d.size_bytes = 1;
  EXPECT_TRUE(wipe_eligible(d));
  d.removable = true;
  EXPECT_FALSE(wipe_eligible(d));
  d.removable = false;
  d.read_only = true;
  EXPECT_FALSE(wipe_eligible(d));
  d.read_only = false;
  d.type = "CD";
  EXPECT_FALSE(wipe_eligible(d));
  d.type = "HDD";
  d.size_bytes = 0;
  EXPECT_FALSE(wipe_eligible(d));
}

TEST(Wipe, OpenBlockDeviceRefusesRegularFiles) {
  char path[] = "/tmp/ironboot-wipe-XXXXXX";
  int fd = ::mkstemp(path);
  ASSERT_GE(fd, 0);
  ::close(fd);
  std::string error;
  EXPECT_EQ(open_block_device(path, error), nullptr);
  EXPECT_NE(error.find("BLKGETSIZE64"), std::string::npos);
  ::unlink(path);
  EXPECT_EQ(open_block_device("/nonexistent/dev", error), nullptr);
}

}  // namespace
}  // namespace ironboot::agent
