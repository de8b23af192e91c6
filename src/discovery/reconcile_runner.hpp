// Keeps every ServerClass's status (serversAvailable, serversInUse, Ready) current: Server and
// ServerClass events trigger one coalesced reconcile (src/serverclass), a class's status is
// written only when it changed, and the `any` class is created when missing. The memberships
// of the last reconcile feed the boot decision before those writes come back through the
// cache. Runs on the io_context thread.
#pragma once

#include "discovery/environment.hpp"
#include "serverclass/matcher.hpp"
#include "serverclass/reconciler.hpp"

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace ironboot::kube {
class ClusterContext;
}

namespace ironboot::discovery {

class ReconcileRunner {
 public:
  // `on_reconciled` runs after each reconcile (the memberships may have changed).
  ReconcileRunner(boost::asio::io_context& io, const Clock& clock, std::function<void()> on_reconciled);
  ~ReconcileRunner();
  ReconcileRunner(const ReconcileRunner&) = delete;
  ReconcileRunner& operator=(const ReconcileRunner&) = delete;

  // Subscribes to the Server and ServerClass informers and schedules the first reconcile.
  void start(kube::ClusterContext& cluster);
  // No reconcile starts after this.
  void stop();
  // A reconcile soon; calls while one is pending share it (see the .cpp for the pacing).
  void schedule();

  // The class memberships of the last reconcile; null before the first.
  const std::vector<serverclass::ClassStatus>* memberships() const { return have_memberships_ ? &memberships_ : nullptr; }
  // Servers parsed and matched so far (a walk skips those unchanged since the last one).
  std::uint64_t placements() const { return placements_; }

 private:
  void reconcile();

  boost::asio::io_context& io_;
  const Clock& clock_;
  std::function<void()> on_reconciled_;
  kube::ClusterContext* cluster_ = nullptr;
  serverclass::MatcherCache matchers_;
  // Where each Server stood in each class at its resourceVersion, for the compiled classes
  // `places_classes_`: only changed Servers are parsed again.
  struct Place {
    enum In : unsigned char { none, available, in_use };
    std::string rv;
    std::vector<In> in_class;  // per class of places_classes_, in order; empty: not eligible
  };
  std::map<std::string, Place> places_;
  std::vector<std::shared_ptr<const serverclass::CompiledClass>> places_classes_;
  std::uint64_t placements_ = 0;
  std::vector<serverclass::ClassStatus> memberships_;
  bool have_memberships_ = false;
  bool scheduled_ = false;
  bool stopped_ = false;
  std::chrono::steady_clock::time_point last_end_{};
  std::chrono::steady_clock::duration last_cost_{};
  bool any_create_pending_ = false;
  // ServerClass status patches queued and not yet answered, by class: the same patch is not
  // queued again while the cache still shows the old status.
  std::map<std::string, std::string> writes_in_flight_;
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);  // posted handlers and timers check it
};

}  // namespace ironboot::discovery
