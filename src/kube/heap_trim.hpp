// Gives the memory freed after a burst of writes back to the kernel. glibc keeps freed heap
// pages (between live chunks they are never returned on their own): after 10,000 Server
// creates and the watch events, lists and log records they made, about a third of the
// daemon's resident memory was free heap. When the store's resourceVersion has moved since
// the last trim but not during the last interval, the burst is over: malloc_trim(0) then.
#pragma once

#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstdint>
#include <functional>

namespace ironboot::kube {

// The policy alone: fed the counter once per interval, says when to trim.
class TrimPolicy {
 public:
  explicit TrimPolicy(std::uint64_t start) : seen_(start), trimmed_(start) {}
  bool tick(std::uint64_t now) {
    const bool quiet = now == seen_;
    seen_ = now;
    if (!quiet || now == trimmed_) return false;
    trimmed_ = now;
    return true;
  }

 private:
  std::uint64_t seen_;
  std::uint64_t trimmed_;
};

class HeapTrimmer {
 public:
  // `activity` is a counter that moves with every write (the store's resourceVersion).
  HeapTrimmer(boost::asio::io_context& io, std::function<std::uint64_t()> activity,
              std::chrono::milliseconds interval = std::chrono::seconds(2));
  // Trims once now (after loading the log) and then after each burst.
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
