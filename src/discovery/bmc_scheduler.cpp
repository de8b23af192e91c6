#include "discovery/bmc_scheduler.hpp"

#include <boost/asio/post.hpp>

#include <algorithm>
#include <optional>

namespace ironboot::discovery {

BmcScheduler::BmcScheduler(boost::asio::io_context& io, std::size_t max_concurrent,
                           std::chrono::milliseconds min_interval)
    : io_(io), max_concurrent_(std::max<std::size_t>(1, max_concurrent)), min_interval_(min_interval), timer_(io) {}

BmcScheduler::~BmcScheduler() {
  alive_.reset();
  timer_.cancel();
}

void BmcScheduler::submit(const std::string& bmc, Task task) {
  if (stopped_) return;
  auto& lane = lanes_[bmc];
  lane.tasks.push_back(std::move(task));
  if (std::find(waiting_.begin(), waiting_.end(), bmc) == waiting_.end()) waiting_.push_back(bmc);
  pump();
}

void BmcScheduler::forget(const std::string& bmc) {
  auto it = lanes_.find(bmc);
  if (it == lanes_.end()) return;
  it->second.tasks.clear();
  waiting_.erase(std::remove(waiting_.begin(), waiting_.end(), bmc), waiting_.end());
  if (!it->second.running) lanes_.erase(it);
}

void BmcScheduler::stop() {
  stopped_ = true;
  for (auto& [name, lane] : lanes_) lane.tasks.clear();
  waiting_.clear();
  timer_.cancel();
}

std::size_t BmcScheduler::queued(const std::string& bmc) const {
  auto it = lanes_.find(bmc);
  return it == lanes_.end() ? 0 : it->second.tasks.size();
}

void BmcScheduler::pump() {
  if (stopped_) return;
  const auto now = std::chrono::steady_clock::now();
  std::optional<std::chrono::steady_clock::time_point> next_due;
  // One pass over the waiting BMCs: start what is due while slots are free.
  for (std::size_t n = waiting_.size(); n > 0 && in_flight_ < max_concurrent_; --n) {
    const std::string name = waiting_.front();
    waiting_.pop_front();
    auto it = lanes_.find(name);
    if (it == lanes_.end() || it->second.tasks.empty()) continue;
    Lane& lane = it->second;
    const auto due = lane.started_once ? lane.last_start + min_interval_ : now;
    if (lane.running || due > now) {
      if (!lane.running) next_due = next_due ? std::min(*next_due, due) : due;
      waiting_.push_back(name);
      continue;
    }
    Task task = std::move(lane.tasks.front());
    lane.tasks.pop_front();
    lane.running = true;
    lane.started_once = true;
    lane.last_start = now;
    ++in_flight_;
    if (!lane.tasks.empty()) waiting_.push_back(name);
    std::weak_ptr<int> alive = alive_;
    auto finished = [this, alive, name, called = std::make_shared<bool>(false)] {
      if (*called || alive.expired()) return;
      *called = true;
      // Later: a task may finish inside its own start.
      boost::asio::post(io_, [this, alive, name] {
        if (alive.expired()) return;
        --in_flight_;
        // The lane stays (its last start paces the next operation) until forgotten.
        if (auto l = lanes_.find(name); l != lanes_.end()) l->second.running = false;
        pump();
      });
    };
    task(std::move(finished));
  }
  if (next_due) arm(*next_due);
}

void BmcScheduler::arm(std::chrono::steady_clock::time_point when) {
  if (armed_ && armed_for_ <= when) return;
  armed_ = true;
  armed_for_ = when;
  timer_.expires_at(when);
  std::weak_ptr<int> alive = alive_;
  timer_.async_wait([this, alive](const boost::system::error_code& ec) {
    if (ec || alive.expired()) return;
    armed_ = false;
    pump();
  });
}

}  // namespace ironboot::discovery
