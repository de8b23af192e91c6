#include "http/connections.hpp"

#include <vector>

#include "common/metrics.hpp"

namespace ironboot::http {

struct ConnectionRegistry::Entry {
  std::function<void()> drain;
};

ConnectionRegistry::Slot::Slot(std::shared_ptr<ConnectionRegistry> owner, std::unique_ptr<Entry> entry)
    : owner_(std::move(owner)), entry_(std::move(entry)) {}

ConnectionRegistry::Slot::Slot(Slot&&) noexcept = default;

ConnectionRegistry::Slot::~Slot() {
  if (entry_) owner_->release(entry_.get());
}

void ConnectionRegistry::Slot::on_drain(std::function<void()> drain) {
  if (entry_) entry_->drain = std::move(drain);
}

std::shared_ptr<ConnectionRegistry> ConnectionRegistry::create(Gauge* gauge) {
  return std::shared_ptr<ConnectionRegistry>(new ConnectionRegistry(gauge));
}

ConnectionRegistry::Slot ConnectionRegistry::acquire() {
  auto entry = std::make_unique<Entry>();
  entries_.insert(entry.get());
  if (gauge_ != nullptr) gauge_->inc();
  return Slot(shared_from_this(), std::move(entry));
}

void ConnectionRegistry::release(Entry* entry) {
  if (entries_.erase(entry) != 0 && gauge_ != nullptr) gauge_->dec();
}

void ConnectionRegistry::drain_all() {
  // Over a copy, each checked again: the set must not change under the iteration.
  const std::vector<Entry*> entries(entries_.begin(), entries_.end());
  for (Entry* e : entries)
    if (entries_.count(e) != 0 && e->drain) e->drain();
}

}  // namespace ironboot::http
