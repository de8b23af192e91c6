// The agent API (docs/agent-api.md) on the HTTP router: token check first, then strict body
// validation, then writes through the cluster write queue; a refused request writes nothing.
// GET instructions is a long poll, answered from its timer or as soon as recheck_polls()
// finds the instruction changed. It also keeps the Server lifecycle status (accepting,
// un-accepting, wipe "none") current from the Server informer. Runs on the io_context thread.
#pragma once

#include "discovery/cluster_access.hpp"
#include "discovery/environment.hpp"
#include "discovery/lifecycle.hpp"
#include "discovery/server_object.hpp"
#include "discovery/token.hpp"
#include "http/message.hpp"
#include "http/router.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json/object.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>

namespace ironboot::kube {
class ClusterContext;
}

namespace ironboot::discovery {

struct AgentApiOptions {
  bool auto_accept = false;    // discovery.auto_accept
  LifecycleOptions lifecycle;  // discovery.wipe
};

class AgentApi {
 public:
  // Whether the boot policy would answer "the agent" for this Server now (null: no Server):
  // a clean machine is told to reboot only when that reboot leaves the agent.
  using NextBootIsAgent = std::function<bool(const boost::json::object* server)>;

  AgentApi(boost::asio::io_context& io, AgentApiOptions options, const Clock& clock, NextBootIsAgent next_boot_is_agent);
  ~AgentApi();
  AgentApi(const AgentApi&) = delete;
  AgentApi& operator=(const AgentApi&) = delete;

  // POST register/heartbeat/progress/wiped/addresses and GET instructions under /agent/v1/.
  void register_routes(http::Router& router);
  // Until start() every request is answered 503. Subscribes to the Server informer.
  void start(kube::ClusterContext& cluster, const TokenAuthority& tokens);
  // Answers every waiting poll now; later polls are answered at once.
  void stop();
  bool idle() const { return polls_.empty(); }
  // Re-evaluates the waiting polls soon (coalesced): call when something the boot policy
  // reads has changed (class memberships, Environments).
  void recheck_polls();
  // Called for every accepted register with the Server it is bound to; the members it returns
  // are added to the answer (the BMC controller's in-band setup, bmc_controller.hpp).
  using RegisterHook = std::function<boost::json::object(const std::string& server, const RegisterReport& report)>;
  void set_register_hook(RegisterHook hook) { register_hook_ = std::move(hook); }

 private:
  struct Caller {
    TokenClaims claims;
    std::string server_name;
  };
  struct Poll {
    std::string server_name;
    Instruction known;
    http::Responder respond;
    std::shared_ptr<boost::asio::steady_timer> timer;
  };

  const boost::json::object* server(std::string_view name) const;
  ServerLookup lookup() const;
  std::string now() const;
  void write_server_status(const std::string& name, StatusPatch patch);

  std::optional<http::Response> authenticate(const http::Request& request, TokenClaims& claims) const;
  // AgentTokenRejected on the Server `claims` name, when it exists.
  void record_rejected(const TokenClaims& claims, const http::Request& request, const std::string& why) const;
  // The create or hardware refresh of a registering Server; Registered / FactsUpdated once it lands.
  void write_registered_server(const std::string& name, const boost::json::object& annotations,
                               const boost::json::object& hardware, const std::string& registered_message);
  std::optional<http::Response> authenticate_agent(const http::Request& request, Caller& caller) const;
  http::Response handle_register(const http::Request& request);
  void handle_instructions(const http::Request& request, http::Responder respond);
  http::Response handle_heartbeat(const http::Request& request);
  http::Response handle_progress(const http::Request& request);
  http::Response handle_wiped(const http::Request& request);
  http::Response handle_addresses(const http::Request& request);
  void on_server_event(const std::shared_ptr<const boost::json::object>& old,
                       const std::shared_ptr<const boost::json::object>& now);
  Instruction instruction_for(const boost::json::object* server) const;
  // Instruction for an agent, with the Wiping condition written when a wipe is handed out.
  Instruction hand_out(const std::string& server_name);
  void check_polls(bool answer_all);

  boost::asio::io_context& io_;
  AgentApiOptions options_;
  const Clock& clock_;
  NextBootIsAgent next_boot_is_agent_;
  RegisterHook register_hook_;
  kube::ClusterContext* cluster_ = nullptr;
  const TokenAuthority* tokens_ = nullptr;
  kube::EventReporter events_;
  bool stopped_ = false;
  bool poll_check_scheduled_ = false;
  std::set<std::string> pending_creates_;  // registered, not yet in the cache
  std::map<std::uint64_t, Poll> polls_;
  std::uint64_t next_poll_id_ = 1;
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);  // posted handlers check it
};

}  // namespace ironboot::discovery
