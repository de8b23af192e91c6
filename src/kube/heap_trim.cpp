#include "kube/heap_trim.hpp"

#include <malloc.h>
#include <unistd.h>

#include <cstdio>

#include "common/log.hpp"

namespace ironboot::kube {

HeapSizes heap_sizes() {
  HeapSizes sizes;
  if (std::FILE* f = std::fopen("/proc/self/statm", "r")) {
    unsigned long size = 0, resident = 0;
    if (std::fscanf(f, "%lu %lu", &size, &resident) == 2)
      sizes.resident = resident * static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
    std::fclose(f);
  }
  const struct mallinfo2 info = ::mallinfo2();
  sizes.in_use = info.uordblks + info.hblkhd;
  return sizes;
}

HeapTrimmer::HeapTrimmer(boost::asio::io_context& io, std::function<std::uint64_t()> activity,
                         std::chrono::milliseconds interval, std::size_t growth)
    : timer_(io), activity_(std::move(activity)), interval_(interval), policy_(activity_(), HeapSizes{}, growth) {}

void HeapTrimmer::start() {
  // Setting the mmap threshold also stops glibc from raising it (and the trim threshold) on
  // its own; the top of the heap is given back once 8 MiB of it are free.
  ::mallopt(M_MMAP_THRESHOLD, static_cast<int>(kMmapThreshold));
  ::mallopt(M_TRIM_THRESHOLD, 8 << 20);
  trim();
  schedule();
}

void HeapTrimmer::schedule() {
  timer_.expires_after(interval_);
  timer_.async_wait([this](boost::system::error_code ec) {
    if (ec) return;
    const std::uint64_t now = activity_();
    // Sizes only when quiet: mallinfo2 walks the free lists.
    if (policy_.quiet(now) && policy_.tick(now, heap_sizes())) trim();
    policy_.saw(now);
    schedule();
  });
}

void HeapTrimmer::trim() {
  const auto t0 = std::chrono::steady_clock::now();
  const std::size_t before = heap_sizes().resident;
  ::malloc_trim(0);
  const HeapSizes after = heap_sizes();
  policy_.trimmed(activity_(), after);
  ++trims_;
  logger("kube")->debug("heap trimmed duration_ms={:.1f} rss_before_mib={} rss_after_mib={} in_use_mib={}",
                        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count(),
                        before >> 20, after.resident >> 20, after.in_use >> 20);
}

}  // namespace ironboot::kube
