// Gives the memory freed after a burst of work back to the kernel. glibc keeps freed heap
// pages (between live chunks they are never returned on their own): after 10,000 Server
// creates and the watch events, lists and log records they made, about half of the
// daemon's resident memory was free heap.
// When the writes have paused (the store's resourceVersion did not move during the last
// interval), malloc_trim(0) runs if there were writes since the last trim, or if since it the
// resident size grew or the heap in use shrank by `growth`: work without writes (lists, the
// ServerClass reconcile walking every Server) dirties and frees pages too, and a trim keyed on
// writes alone ran in the middle of it and left 70 MiB of free heap resident.
// Buffers of `kMmapThreshold` and more are mapped on their own and unmapped when freed
// (glibc's default raises this threshold to the largest buffer freed, up to 32 MiB, after
// which a thread's arena keeps such buffers: the log's sync thread held 24 MiB of a
// compaction's buffers that malloc_trim does not return).
#pragma once

#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>

namespace ironboot::kube {

// What the trimmer measures: the process's resident size and the heap in use, in bytes.
struct HeapSizes {
  std::size_t resident = 0;
  std::size_t in_use = 0;
};

// The policy alone: fed the write counter once per interval (and the sizes when it was
// quiet), says when to trim; told the sizes after each trim.
class TrimPolicy {
 public:
  TrimPolicy(std::uint64_t start, HeapSizes sizes, std::size_t growth)
      : seen_(start), trimmed_(start), after_trim_(sizes), growth_(growth) {}
  // The writes paused during the last interval.
  bool quiet(std::uint64_t now) const { return now == seen_; }
  bool tick(std::uint64_t now, HeapSizes sizes) const {
    return quiet(now) && (now != trimmed_ || sizes.resident >= after_trim_.resident + growth_ ||
                          sizes.in_use + growth_ <= after_trim_.in_use);
  }
  // After each tick: the counter it saw.
  void saw(std::uint64_t now) { seen_ = now; }
  void trimmed(std::uint64_t now, HeapSizes sizes) {
    trimmed_ = now;
    after_trim_ = sizes;
  }

 private:
  std::uint64_t seen_;
  std::uint64_t trimmed_;
  HeapSizes after_trim_;
  std::size_t growth_;
};

// The process's resident size (/proc/self/statm; 0 when it cannot be read) and glibc's
// bytes in use (mallinfo2, every arena).
HeapSizes heap_sizes();

class HeapTrimmer {
 public:
  static constexpr std::size_t kMmapThreshold = 1u << 20;
  static constexpr std::size_t kDefaultGrowth = 8u << 20;

  // `activity` is a counter that moves with every write (the store's resourceVersion).
  HeapTrimmer(boost::asio::io_context& io, std::function<std::uint64_t()> activity,
              std::chrono::milliseconds interval = std::chrono::seconds(2), std::size_t growth = kDefaultGrowth);
  // Fixes the allocator's thresholds, trims once now (after loading the log) and then as the
  // policy says.
  void start();
  void stop() { timer_.cancel(); }
  std::uint64_t trims() const { return trims_; }

 private:
  void schedule();
  void trim();

  boost::asio::steady_timer timer_;
  std::function<std::uint64_t()> activity_;
  std::chrono::milliseconds interval_;
  TrimPolicy policy_;
  std::uint64_t trims_ = 0;
};

}  // namespace ironboot::kube
