#include "http/connections.hpp"

#include <vector>

#include "common/metrics.hpp"

namespace ironboot::http {

struct ConnectionRegistry::Entry {
  std::function<void()> drain;
  std::string client;
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

ConnectionRegistry::Slot ConnectionRegistry::acquire(std::string client) {
  auto entry = std::make_unique<Entry>();
  if (!client.empty()) ++per_client_[client];
  entry->client = std::move(client);
  entries_.insert(entry.get());
  if (gauge_ != nullptr) gauge_->inc();
  return Slot(shared_from_this(), std::move(entry));
}

std::size_t ConnectionRegistry::count_for(std::string_view client) const {
  const auto it = per_client_.find(std::string(client));
  return it == per_client_.end() ? 0 : it->second;
}

void ConnectionRegistry::release(Entry* entry) {
  if (entries_.erase(entry) == 0) return;
  if (!entry->client.empty()) {
    const auto it = per_client_.find(entry->client);
    if (it != per_client_.end() && --it->second == 0) per_client_.erase(it);
  }
  if (gauge_ != nullptr) gauge_->dec();
}

void ConnectionRegistry::drain_all() {
  // Over a copy, each checked again: the set must not change under the iteration.
  const std::vector<Entry*> entries(entries_.begin(), entries_.end());
  for (Entry* e : entries)
    if (entries_.count(e) != 0 && e->drain) e->drain();
}

}  // namespace ironboot::http
