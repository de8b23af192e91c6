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
// The measuring and the trim run on a thread of the trimmer's own, one at a time: a trim of a
// 160 MiB heap took up to 540 ms, which on the event loop stalled every service.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

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

// What the trimmer does to the heap, replaceable in tests. Both run on the trimmer's thread.
struct HeapOps {
  std::function<HeapSizes()> sizes;
  std::function<void()> trim;
};
// heap_sizes() and malloc_trim(0).
HeapOps glibc_heap();

class HeapTrimmer {
 public:
  static constexpr std::size_t kMmapThreshold = 1u << 20;
  static constexpr std::size_t kDefaultGrowth = 8u << 20;

  // `activity` is a counter that moves with every write (the store's resourceVersion).
  HeapTrimmer(boost::asio::io_context& io, std::function<std::uint64_t()> activity,
              std::chrono::milliseconds interval = std::chrono::seconds(2), std::size_t growth = kDefaultGrowth,
              HeapOps ops = glibc_heap());
  // Waits for a trim in flight.
  ~HeapTrimmer();
  HeapTrimmer(const HeapTrimmer&) = delete;
  HeapTrimmer& operator=(const HeapTrimmer&) = delete;
  // Fixes the allocator's thresholds, trims once now (after loading the log) and then as the
  // policy says.
  void start();
  void stop() { timer_.cancel(); }
  // Trims finished (their completion handled on the event loop).
  std::uint64_t trims() const { return trims_; }
  // A measuring or trim is running on the trimmer's thread.
  bool busy() const { return busy_; }

 private:
  void schedule();
  // Hands a job to the thread: measure, trim if `always` or the policy says so, post back.
  void offer(std::uint64_t now, bool always);
  void finished(std::uint64_t now, HeapSizes after, std::size_t resident_before, double took_ms);
  void run_jobs();

  boost::asio::io_context& io_;
  boost::asio::steady_timer timer_;
  std::function<std::uint64_t()> activity_;
  std::chrono::milliseconds interval_;
  HeapOps ops_;
  TrimPolicy policy_;
  std::uint64_t trims_ = 0;
  bool busy_ = false;  // the event loop's view: set when a job is handed over, cleared by its completion
  // Completions posted after the trimmer is gone do nothing.
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);
  std::mutex mu_;
  std::condition_variable cv_;
  std::optional<std::function<void()>> job_;
  bool quit_ = false;
  std::thread thread_;  // last: started once the members it uses exist
};

}  // namespace ironboot::kube
