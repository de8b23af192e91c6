// Drives every Server's BMC from the Server objects (docs/bmc.md): reads the credentials
// (spec.bmc.user/pass, or userFrom/passFrom Secrets through the API), keeps status.power and
// the BMCReachable condition current on a jittered period, enforces spec.online, reboots on
// the reboot.metal3.io annotation (then removes it), and executes the lifecycle's power steps
// (lifecycle.hpp): PXE once + power on for Registering, PXE once + cycle into the agent for
// Deprovisioning, power off for Available. It also records status.state for every Server, BMC
// or not (without one, an Event says a person must reboot it), and handles the agent's in-band
// BMC report (auto-setup: the Secret <server>-bmc and spec.bmc). Every BMC operation goes
// through BmcScheduler (bounded concurrency, per-BMC pacing); every action is an Event on the
// Server. Runs on the io_context thread; the BMC clients come from the factory.
#pragma once

#include "bmc/bmc.hpp"
#include "bmc/endpoint.hpp"
#include "discovery/bmc_scheduler.hpp"
#include "discovery/cluster_access.hpp"
#include "discovery/environment.hpp"
#include "discovery/lifecycle.hpp"
#include "discovery/reports.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json/object.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>

namespace ironboot {
struct Config;
}
namespace ironboot::kube {
class ClusterContext;
}

namespace ironboot::discovery {

// The Secret auto-setup writes (<server>-bmc, keys username / password) lives here.
inline constexpr const char* kBmcSecretNamespace = bmc::kDefaultSecretNamespace;

struct BmcControllerOptions {
  std::chrono::milliseconds power_refresh{60000};  // bmc.power_refresh_seconds
  double refresh_jitter = 0.1;                     // each period is power_refresh * (1 +- this)
  std::size_t max_concurrent = 16;                 // bmc.max_concurrent
  std::chrono::milliseconds min_interval{1000};    // bmc.min_interval_ms
  bool power_off_available = true;                 // bmc.power_off_available
  bool auto_setup = false;                         // bmc.auto_setup
  // A Server being deprovisioned (or accepted) that no agent picked up within this is cycled
  // into PXE, at most max_agent_attempts times; then it is in Error.
  std::chrono::milliseconds agent_grace{600000};  // servers take minutes to POST
  unsigned max_agent_attempts = 3;

  static BmcControllerOptions from(const Config& config);
};

class BmcController {
 public:
  // The Environment the boot policy boots for a Server now ("" none); by default its
  // spec.environmentRef.
  using EnvironmentOf = std::function<std::string(const boost::json::object& server)>;

  BmcController(boost::asio::io_context& io, std::shared_ptr<bmc::BmcClientFactory> factory,
                BmcControllerOptions options, const Clock& clock, EnvironmentOf environment_of = {});
  ~BmcController();
  BmcController(const BmcController&) = delete;
  BmcController& operator=(const BmcController&) = delete;

  // Subscribes to the Server informer and looks at every cached Server.
  void start(kube::ClusterContext& cluster);
  // Closes every BMC session; nothing starts after this.
  void stop();

  // The agent API's register hook (AgentApi::set_register_hook): records status.bmc, answers
  // {"bmcSetup": true} when bmc.auto_setup is on and the Server has no spec.bmc, and stores
  // the credentials of a setup the agent reports.
  boost::json::object on_register(const std::string& server, const RegisterReport& report);

  const BmcScheduler& scheduler() const { return scheduler_; }

 private:
  struct Managed;
  using Op = std::function<void(bmc::BmcClient& client, std::function<void(bmc::BmcStatus)> done)>;

  const boost::json::object* server(const std::string& name) const;
  std::string now() const;
  void on_server(const kube::ObjectPtr& old, const kube::ObjectPtr& now_obj);
  void configure(Managed& m, const boost::json::object& srv);
  void forget(const std::string& name);
  void evaluate(const std::string& name);
  void enforce_online(const std::string& name);
  void handle_reboot_annotation(const std::string& name);
  void start_deprovision(const std::string& name, const std::string& why);
  void lifecycle_step(const std::string& name, PowerStep step, const ServerStateView& view);
  void need_manual_reboot(const std::string& name, const std::string& why);

  void refresh(const std::string& name);
  void arm_refresh(const std::string& name, std::chrono::milliseconds after);
  void arm_grace(const std::string& name, std::chrono::milliseconds after);
  // Resolves the credentials and makes the client when they changed; `then(error)`.
  void with_client(const std::string& name, std::function<void(const std::string& error)> then);
  void read_secret(const bmc::SecretKeyRef& ref, const std::string& field,
                   std::function<void(std::optional<std::string> value, std::string error)> done);
  // Runs `op` through the scheduler (client ready first); `done(status)`.
  void run(const std::string& name, const std::string& what, Op op, std::function<void(bmc::BmcStatus)> done);
  void read_power(const std::string& name, std::function<void()> then = {});
  void record_reachability(const std::string& name, bmc::PowerState power, const std::string& reason,
                           const std::string& message);
  void record_action(const std::string& name, const char* reason, const std::string& message, const bmc::BmcStatus& st);
  void remove_annotation(const std::string& name, std::string_view key);
  void store_bmc_credentials(const std::string& name, const InbandBmc& found, const InbandBmcCredentials& creds);

  boost::asio::io_context& io_;
  std::shared_ptr<bmc::BmcClientFactory> factory_;
  BmcControllerOptions options_;
  const Clock& clock_;
  EnvironmentOf environment_of_;
  BmcScheduler scheduler_;
  kube::ClusterContext* cluster_ = nullptr;
  kube::EventReporter events_;
  std::map<std::string, std::unique_ptr<Managed>> managed_;
  std::mt19937 jitter_rng_{std::random_device{}()};
  bool stopped_ = false;
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);  // posted handlers, timers and replies check it
};

}  // namespace ironboot::discovery
