#include "kube/heap_trim.hpp"

#include <malloc.h>

#include "common/log.hpp"

namespace ironboot::kube {

HeapTrimmer::HeapTrimmer(boost::asio::io_context& io, std::function<std::uint64_t()> activity,
                         std::chrono::milliseconds interval)
    : timer_(io), activity_(std::move(activity)), interval_(interval), policy_(activity_()) {}

void HeapTrimmer::start() {
  policy_ = TrimPolicy(activity_());
  trim();
  schedule();
}

void HeapTrimmer::schedule() {
  timer_.expires_after(interval_);
  timer_.async_wait([this](boost::system::error_code ec) {
    if (ec) return;
    if (policy_.tick(activity_())) trim();
    schedule();
  });
}

void HeapTrimmer::trim() {
  const auto t0 = std::chrono::steady_clock::now();
  ::malloc_trim(0);
  ++trims_;
  logger("kube")->debug("heap trimmed duration_ms={:.1f}",
                        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
}

}  // namespace ironboot::kube
