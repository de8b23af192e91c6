#include "kube/heap_trim.hpp"

#include <malloc.h>
#include <unistd.h>

#include <boost/asio/post.hpp>

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

HeapOps glibc_heap() {
  // malloc_trim and mallinfo2 take each arena's lock in turn, so they may run on another
  // thread while the event loop allocates (which waits for the lock only when it allocates
  // past its thread cache: a few ms of a trim of tens, bench/kube/trim_stall.cpp).
  return HeapOps{heap_sizes, [] { ::malloc_trim(0); }};
}

HeapTrimmer::HeapTrimmer(boost::asio::io_context& io, std::function<std::uint64_t()> activity,
                         std::chrono::milliseconds interval, std::size_t growth, HeapOps ops)
    : io_(io),
      timer_(io),
      activity_(std::move(activity)),
      interval_(interval),
      ops_(std::move(ops)),
      policy_(activity_(), HeapSizes{}, growth),
      thread_([this] { run_jobs(); }) {}

HeapTrimmer::~HeapTrimmer() {
  {
    std::lock_guard lock(mu_);
    quit_ = true;
  }
  cv_.notify_one();
  thread_.join();
}

void HeapTrimmer::run_jobs() {
  for (;;) {
    std::function<void()> job;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return quit_ || job_; });
      if (quit_) return;
      job = std::move(*job_);
      job_.reset();
    }
    job();
  }
}

void HeapTrimmer::start() {
  // Setting the mmap threshold also stops glibc from raising it (and the trim threshold) on
  // its own; the top of the heap is given back once 8 MiB of it are free.
  ::mallopt(M_MMAP_THRESHOLD, static_cast<int>(kMmapThreshold));
  ::mallopt(M_TRIM_THRESHOLD, 8 << 20);
  offer(activity_(), true);
  schedule();
}

void HeapTrimmer::schedule() {
  timer_.expires_after(interval_);
  timer_.async_wait([this](boost::system::error_code ec) {
    if (ec) return;
    const std::uint64_t now = activity_();
    // Sizes only when quiet (mallinfo2 walks the free lists), and never a second job while
    // one runs.
    if (!busy_ && policy_.quiet(now)) offer(now, false);
    policy_.saw(now);
    schedule();
  });
}

void HeapTrimmer::offer(std::uint64_t now, bool always) {
  busy_ = true;
  // The thread decides on a copy of the policy as it is now; only the loop changes policy_.
  auto job = [this, now, always, policy = policy_, alive = std::weak_ptr<int>(alive_)] {
    const HeapSizes before = ops_.sizes();
    if (!always && !policy.tick(now, before)) {
      boost::asio::post(io_, [this, alive] {
        if (alive.lock()) busy_ = false;
      });
      return;
    }
    const auto t0 = std::chrono::steady_clock::now();
    ops_.trim();
    const HeapSizes after = ops_.sizes();
    const double took_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    boost::asio::post(io_, [this, alive, now, after, resident_before = before.resident, took_ms] {
      if (alive.lock()) finished(now, after, resident_before, took_ms);
    });
  };
  {
    std::lock_guard lock(mu_);
    job_ = std::move(job);
  }
  cv_.notify_one();
}

void HeapTrimmer::finished(std::uint64_t now, HeapSizes after, std::size_t resident_before, double took_ms) {
  busy_ = false;
  // `now` is the counter when the job was handed over: writes during the trim count as
  // writes since it, so the next quiet interval trims again.
  policy_.trimmed(now, after);
  ++trims_;
  logger("kube")->debug("heap trimmed duration_ms={:.1f} rss_before_mib={} rss_after_mib={} in_use_mib={}", took_ms,
                        resident_before >> 20, after.resident >> 20, after.in_use >> 20);
}

}  // namespace ironboot::kube
