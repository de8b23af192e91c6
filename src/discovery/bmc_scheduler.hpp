// Paces BMC operations: at most `max_concurrent` in flight over all BMCs, one at a time per
// BMC, and at least `min_interval` between the starts of two operations on the same BMC
// (BMCs freeze under bursts). Tasks of one BMC run in submission order; BMCs waiting for a
// slot are served round-robin. Runs on the io_context thread.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstddef>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>

namespace ironboot::discovery {

class BmcScheduler {
 public:
  // A task starts one operation and calls `finished` exactly once when it completes.
  using Task = std::function<void(std::function<void()> finished)>;

  BmcScheduler(boost::asio::io_context& io, std::size_t max_concurrent, std::chrono::milliseconds min_interval);
  ~BmcScheduler();
  BmcScheduler(const BmcScheduler&) = delete;
  BmcScheduler& operator=(const BmcScheduler&) = delete;

  void submit(const std::string& bmc, Task task);
  // Drops the BMC's queued tasks (one in flight still finishes).
  void forget(const std::string& bmc);
  // Drops everything queued; nothing starts after this.
  void stop();

  std::size_t in_flight() const { return in_flight_; }
  std::size_t queued(const std::string& bmc) const;

 private:
  struct Lane {
    std::deque<Task> tasks;
    bool running = false;
    bool started_once = false;
    std::chrono::steady_clock::time_point last_start{};
  };
  void pump();
  void arm(std::chrono::steady_clock::time_point when);

  boost::asio::io_context& io_;
  std::size_t max_concurrent_;
  std::chrono::milliseconds min_interval_;
  std::map<std::string, Lane> lanes_;
  std::deque<std::string> waiting_;  // BMCs with queued tasks, in round-robin order
  std::size_t in_flight_ = 0;
  bool stopped_ = false;
  boost::asio::steady_timer timer_;
  std::chrono::steady_clock::time_point armed_for_{};
  bool armed_ = false;
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);
};

}  // namespace ironboot::discovery
