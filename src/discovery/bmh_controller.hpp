// The thin shell around reconcile_bmh (baremetalhost.hpp; docs/bmc.md "BareMetalHost"): watches
// Metal3's BareMetalHosts in every namespace, reads the Secret each one names
// (spec.bmc.credentialsName: username, password), finds the Server its boot MAC belongs to,
// runs the BMC's "PXE once + power on" for a host still registering, and writes what
// reconcile_bmh says: the host's status (status subresource), the linked Server's
// spec.accepted / spec.online / spec.bmc and annotations. Every BMC operation runs through a
// BmcScheduler (one at a time per BMC, bounded concurrency) under a deadline; a failure is
// retried after a jittered exponential backoff, the Secret read again first. Events on the
// host for every action and error. Runs on the io_context thread and never waits on it.
#pragma once

#include "bmc/bmc.hpp"
#include "discovery/baremetalhost.hpp"
#include "discovery/bmc_scheduler.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json/object.hpp>

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>

#include "kube/event_recorder.hpp"
#include "kube/store.hpp"

namespace ironboot {
struct Config;
}
namespace ironboot::kube {
class ClusterContext;
}

namespace ironboot::discovery {

struct BmhControllerOptions {
  std::size_t max_concurrent = 16;               // bmc.max_concurrent
  std::chrono::milliseconds min_interval{1000};  // bmc.min_interval_ms
  // One BMC sequence (status, PXE once, power on, status) ends within this, or fails Timeout
  // (the clients time out each request; this bounds the whole sequence).
  std::chrono::milliseconds operation_timeout{60000};
  // After a failure (Secret unreadable, BMC error) the host is tried again after a backoff
  // doubling from min_backoff to max_backoff, jittered; a BMC outage does not leave it stuck.
  std::chrono::milliseconds min_backoff{5000};
  std::chrono::milliseconds max_backoff{300000};
  // Until a Server is linked the controller reads the power state itself on this period.
  std::chrono::milliseconds power_refresh{60000};  // bmc.power_refresh_seconds

  static BmhControllerOptions from(const Config& config);
};

class BmhController {
 public:
  BmhController(boost::asio::io_context& io, std::shared_ptr<bmc::BmcClientFactory> factory, BmhControllerOptions options);
  ~BmhController();
  BmhController(const BmhController&) = delete;
  BmhController& operator=(const BmhController&) = delete;

  // Subscribes to the BareMetalHost and Server informers and starts the BareMetalHost one.
  void start(kube::ClusterContext& cluster);
  // Closes every BMC session; nothing starts after this.
  void stop();

  const BmcScheduler& scheduler() const { return scheduler_; }

 private:
  struct Host;

  void on_host(const kube::ObjectPtr& old, const kube::ObjectPtr& now);
  void on_server(const kube::ObjectPtr& old, const kube::ObjectPtr& now);
  void reconcile(const std::string& key);
  void configure(Host& h, const boost::json::object& host);
  void read_credentials(const std::string& key, const boost::json::object& host);
  kube::ObjectPtr linked_server(const boost::json::object& host) const;
  // The host, when it still exists with the configuration of `epoch` (and not stopped).
  Host* live(const std::string& key, unsigned epoch);
  void ensure_client(Host& h);
  void power_on_pxe(const std::string& key);
  // The power state, after powering off first when `off` (an offline host found on).
  void read_power(const std::string& key, bool off = false);
  enum class Operation { PowerOnPxe, PowerOff, Read };
  void operation_done(const std::string& key, const bmc::BmcStatus& st, Operation op);
  void arm_retry(const std::string& key, std::chrono::milliseconds after, bool reread_secret);
  void write_status(const std::string& key, const boost::json::object& host, const boost::json::object& status);
  void link(const std::string& key, const boost::json::object& host, const boost::json::object& server, const BmhPlan& plan);
  // The host `key` was deleted: its annotations leave the Server it was linked to.
  void unlink(const std::string& key, const std::string& server);
  // Once both caches are synced: Servers that name a host deleted while ironboot was down.
  void sweep_orphans();
  std::shared_ptr<boost::asio::steady_timer> sweep_timer_;

  boost::asio::io_context& io_;
  std::shared_ptr<bmc::BmcClientFactory> factory_;
  BmhControllerOptions options_;
  BmcScheduler scheduler_;
  kube::ClusterContext* cluster_ = nullptr;
  kube::EventReporter events_;
  std::map<std::string, std::unique_ptr<Host>> hosts_;  // by "namespace/name"
  // Every cached Server's NIC MACs (mac_key form), kept by the Server handler: finding a
  // host's Server never walks (and parses) the whole Server cache.
  std::map<std::string, std::set<std::string>> servers_by_mac_;
  std::map<std::string, std::vector<std::string>> macs_of_server_;
  void index_server(const std::string& name, const boost::json::object* server);
  std::mt19937 jitter_rng_{std::random_device{}()};
  bool stopped_ = false;
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);  // handlers, timers and replies check it
};

}  // namespace ironboot::discovery
