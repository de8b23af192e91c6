// Internal to the discovery service (discovery_service.cpp, agent_api.cpp,
// environments.cpp): the state shared by the agent API, the boot policy, the ServerClass
// reconciler runner and the Environment fetcher. Everything runs on the io_context thread
// except the fetch workers, which only post results back.
#pragma once

#include "common/config.hpp"
#include "discovery/boot_decision.hpp"
#include "discovery/environment_fetcher.hpp"
#include "discovery/lifecycle.hpp"
#include "discovery/server_object.hpp"
#include "discovery/token.hpp"
#include "http/message.hpp"
#include "http/router.hpp"
#include "serverclass/matcher.hpp"
#include "serverclass/reconciler.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json/object.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>


namespace ironboot {
namespace kube {
class ClusterContext;
}

namespace discovery {

class DiscoveryCore {
 public:
  DiscoveryCore(boost::asio::io_context& io, const Config& config);
  ~DiscoveryCore();

  // start(): key + cluster context; "" or an error text.
  std::string start();
  void stop();
  bool idle() const { return polls_.empty(); }
  bool ready() const;

  void register_routes(http::Router& router);

  // Boot policy and token issuer (called by the adapters in discovery_service.cpp).
  // `record`: write the conditions the choice implies (PXEBooted...); false for HEAD probes.
  BootChoice decide(const std::string& uuid, const std::string& mac, bool record = true);
  std::string issue_token(const std::string& uuid, const std::string& mac) const;

 private:
  // --- shared helpers (discovery_service.cpp)
  const boost::json::object* server(std::string_view name) const;
  ServerLookup lookup() const;
  std::string now() const;
  // Status write computed from the object's current state at write time.
  void write_status(const std::string& resource, const std::string& name,
                    std::function<std::optional<boost::json::object>(const boost::json::object&)> patch);
  BootChoice decide_for_server(const boost::json::object* server);
  Instruction instruction_for(const boost::json::object* server);
  void on_server_event(const std::shared_ptr<const boost::json::object>& old,
                       const std::shared_ptr<const boost::json::object>& now);
  void schedule_reconcile();
  void reconcile_classes();

  // --- agent API (agent_api.cpp)
  struct Caller {
    TokenClaims claims;
    std::string server_name;
  };
  std::optional<http::Response> authenticate(const http::Request& request, TokenClaims& claims) const;
  std::optional<http::Response> authenticate_agent(const http::Request& request, Caller& caller) const;
  http::Response handle_register(const http::Request& request);
  void handle_instructions(const http::Request& request, http::Responder respond);
  http::Response handle_heartbeat(const http::Request& request);
  http::Response handle_progress(const http::Request& request);
  http::Response handle_wiped(const http::Request& request);
  http::Response handle_addresses(const http::Request& request);
  // Instruction for an agent, with the Wiping condition written when a wipe is handed out.
  Instruction hand_out(const std::string& server_name);
  void schedule_poll_check();
  void check_polls(bool answer_all);

  // --- environments (environments.cpp)
  void on_environment_event(const std::shared_ptr<const boost::json::object>& now, const std::string& name);
  void fetch_done(const std::string& name, const std::string& key, const FetchResult& result);
  http::Response serve_environment_file(const http::Request& request) const;

 public:
  // Paths served for an Environment (empty when it is not fetched and verified).
  std::string environment_asset_path(const std::string& name, bool kernel) const;

 private:
  struct Poll {
    std::string server_name;
    Instruction known;
    http::Responder respond;
    std::shared_ptr<boost::asio::steady_timer> timer;
  };
  struct EnvState {
    std::string key;  // kernel url + sha512 + initrd url + sha512 this state is for
    bool fetching = false;
    bool ready = false;
    std::string dir;
  };

  boost::asio::io_context& io_;
  Config config_;
  LifecycleOptions lifecycle_;
  SystemClock clock_;
  std::optional<TokenAuthority> tokens_;
  kube::ClusterContext* cluster_ = nullptr;
  serverclass::MatcherCache matchers_;
  std::vector<serverclass::ClassStatus> memberships_;
  bool have_memberships_ = false;
  bool reconcile_scheduled_ = false;
  std::chrono::steady_clock::time_point last_reconcile_end_{};
  std::chrono::steady_clock::duration last_reconcile_cost_{};
  bool any_create_pending_ = false;
  bool poll_check_scheduled_ = false;
  bool stopped_ = false;
  std::set<std::string> pending_creates_;
  // ServerClass status patches queued and not yet answered, by class: the same patch is not
  // queued again while the cache still shows the old status.
  std::map<std::string, std::string> class_writes_in_flight_;  // registered, not yet in the cache
  std::map<std::uint64_t, Poll> polls_;
  std::uint64_t next_poll_id_ = 1;
  std::map<std::string, EnvState> environments_;
  std::vector<std::thread> workers_;
  std::shared_ptr<std::atomic<bool>> cancel_ = std::make_shared<std::atomic<bool>>(false);
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);
};

}  // namespace discovery
}  // namespace ironboot
