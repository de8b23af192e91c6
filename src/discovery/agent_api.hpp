// The agent API (docs/agent-api.md) on the HTTP router: the token is checked from the head,
// before the body is read (AgentSessions: a boot token on register, a session token
// everywhere, bound to the agent's address), then strict body validation, then writes through
// the cluster write queue; a refused request writes nothing. A wipe is an exchange: the wipe
// instruction carries a one-time id, and POST wiped counts only from that session with it.
// GET instructions is a long poll, answered from its timer, as soon as an event of its Server
// changes the instruction (the accept reaches a waiting agent at once), or when
// recheck_polls() finds it changed (class memberships, Environments). It also keeps the Server lifecycle status (accepting,
// un-accepting, wipe "none") current from the Server informer. Runs on the io_context thread.
#pragma once

#include "discovery/agent_session.hpp"
#include "discovery/attestation.hpp"
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

namespace ironboot {
struct Config;
}

namespace ironboot::kube {
class ClusterContext;
}

namespace ironboot::discovery {

struct AgentApiOptions {
  bool auto_accept = false;    // discovery.auto_accept
  LifecycleOptions lifecycle;  // discovery.wipe
  bool require_tpm = false;    // discovery.require_tpm
  ChallengeOptions challenges;  // discovery.tpm_challenge_ttl_seconds, tpm_challenges_per_address
  static AgentApiOptions from(const Config& config);
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

  // POST challenge/register/heartbeat/progress/wiped/addresses and GET instructions under /agent/v1/.
  void register_routes(http::Router& router);
  // Until start() every request is answered 503. Subscribes to the Server informer.
  // `random` makes the wipe ids.
  void start(kube::ClusterContext& cluster, AgentSessions& sessions, RandomSource random);
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
  // What the head guard verified, handed to the handler in Request::guarded.
  struct Caller {
    TokenClaims claims;
    std::string server_name;
  };
  struct Poll {
    Caller caller;
    Instruction known;
    http::Responder respond;
    std::shared_ptr<boost::asio::steady_timer> timer;
  };

  const boost::json::object* server(std::string_view name) const;
  ServerLookup lookup() const;
  std::string now() const;
  void write_server_status(const std::string& name, StatusPatch patch);

  // The head guard: a refusal, or nullopt with the Caller stored in `head.guarded`.
  std::optional<http::Response> authenticate(http::Request& head);
  // 401 {"error", "reason"}: counted, logged, and AgentTokenRejected on the Server `claimed`
  // names (when given and it exists).
  http::Response refuse(const http::Request& request, TokenError reason, const std::string& why,
                        const std::optional<TokenClaims>& claimed) const;
  // The guard's Caller, or null when the request did not pass it.
  static const Caller* caller_of(const http::Request& request);
  // `response` with a renewed session token in its Ironboot-Session header when due.
  http::Response with_session(const Caller& caller, http::Response response) const;
  // The create or hardware refresh of a registering Server; Registered / FactsUpdated once it lands.
  void write_registered_server(const std::string& name, const boost::json::object& annotations,
                               const boost::json::object& hardware, const std::string& registered_message);
  http::Response handle_challenge(const http::Request& request);
  http::Response handle_register(const http::Request& request);
  // 403 {"error", "reason"} for a request whose machine identity is refused: counted, logged,
  // and a Warning Event `event_reason` on `server` (when it exists).
  http::Response refuse_identity(const http::Request& request, const std::string& server_name, const std::string& reason,
                                 const char* event_reason, const std::string& why, int status = 403) const;
  // The identity writes of an accepted register: the EK annotation is set with the facts;
  // this writes status.identity and records the proving boot.
  void write_identity(const std::string& server_name, const std::optional<ProvenIdentity>& proven,
                      const std::string& boot_nonce);
  void handle_instructions(const http::Request& request, http::Responder respond);
  http::Response handle_heartbeat(const http::Request& request);
  http::Response handle_progress(const http::Request& request);
  http::Response handle_wiped(const http::Request& request);
  http::Response handle_addresses(const http::Request& request);
  void on_server_event(const std::shared_ptr<const boost::json::object>& old,
                       const std::shared_ptr<const boost::json::object>& now);
  Instruction instruction_for(const boost::json::object* server) const;
  // Instruction for an agent, with the Wiping condition and the wipe id's digest written
  // when a wipe is handed out (the same id again to the same session). `as_of`: the Server as
  // it will be once a pending write lands (default: the cached object). Without
  // `replace_outstanding` (a heartbeat, which the agent sends while it wipes) a wipe recorded in
  // the status for this session keeps its id, even when this process no longer knows it.
  Instruction hand_out(const Caller& caller, const boost::json::object* as_of = nullptr,
                       bool replace_outstanding = true);
  void check_polls(bool answer_all);
  // Answers the waiting polls of one Server whose instruction changed (after its event).
  void check_polls_of(const std::string& server_name);
  // Removes a waiting poll from both indexes and answers it with the current instruction.
  void answer_poll(std::uint64_t id);

  boost::asio::io_context& io_;
  AgentApiOptions options_;
  const Clock& clock_;
  NextBootIsAgent next_boot_is_agent_;
  RegisterHook register_hook_;
  kube::ClusterContext* cluster_ = nullptr;
  AgentSessions* sessions_ = nullptr;
  RandomSource random_;
  // The wipe id handed out per Server and the boot nonce of the session it went to.
  struct IssuedWipe {
    std::string id;
    std::string nonce;
  };
  std::map<std::string, IssuedWipe> wipes_;
  std::optional<CredentialChallenges> challenges_;
  // The boot nonce that last proved each Server's EK here (its status write may be on its way).
  std::map<std::string, std::string> proven_boots_;
  kube::EventReporter events_;
  bool stopped_ = false;
  bool poll_check_scheduled_ = false;
  std::set<std::string> pending_creates_;  // registered, not yet in the cache
  std::map<std::uint64_t, Poll> polls_;
  std::multimap<std::string, std::uint64_t> polls_by_server_;  // Server name -> its waiting polls
  std::uint64_t next_poll_id_ = 1;
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);  // posted handlers check it
};

}  // namespace ironboot::discovery
