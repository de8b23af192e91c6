#include "discovery/agent_api.hpp"

#include "common/config.hpp"
#include "common/log.hpp"
#include "common/metrics.hpp"
#include "common/text.hpp"
#include "common/time.hpp"
#include "kube/cluster_context.hpp"
#include "kube/json_ops.hpp"
#include "kube/objects.hpp"
#include "tpm/marshal.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json.hpp>

namespace ironboot::discovery {

namespace json = boost::json;

namespace {

http::Response json_response(int status, const json::object& body) {
  auto r = http::text_response(status, json::serialize(body) + "\n", "application/json");
  r.set("Cache-Control", "no-store");
  return r;
}

http::Response error_response(int status, std::string message) {
  return json_response(status, json::object{{"error", std::move(message)}});
}

constexpr std::string_view kSessionHeader = "Ironboot-Session";

Counter& rejections(TokenError reason) {
  return metrics().counter("ironboot_agent_token_rejections_total",
                           "Agent API requests refused for their token, by reason", {{"reason", to_string(reason)}});
}

// "sda, sdb" from the Server's reported storage devices.
std::string reported_disks(const json::object& server) {
  const auto* spec = objects::spec_of(server);
  const auto* hw = spec ? objects::object_at(*spec, "hardware") : nullptr;
  const auto* storage = hw ? objects::object_at(*hw, "storage") : nullptr;
  const auto* devices = storage ? objects::array_at(*storage, "devices") : nullptr;
  std::string out;
  if (devices) {
    for (const auto& d : *devices) {
      if (!d.is_object()) continue;
      auto name = objects::string_at(d.get_object(), "deviceName");
      if (name.empty()) name = objects::string_at(d.get_object(), "name");
      if (!name.empty()) out += (out.empty() ? "" : ", ") + std::string(name);
    }
  }
  return out.empty() ? "none reported" : out;
}

// "3m12s" since the Wiping condition turned True, or "" when unknown.
std::string wipe_duration(const json::object& server, std::chrono::system_clock::time_point now) {
  const auto* wiping = objects::find_condition(server, "Wiping");
  if (!wiping || !objects::condition_is_true(server, "Wiping")) return {};
  const auto since = parse_rfc3339(objects::string_at(*wiping, "lastTransitionTime"));
  if (!since || *since > now) return {};
  const auto s = std::chrono::duration_cast<std::chrono::seconds>(now - *since).count();
  std::string out;
  if (s >= 3600) out += std::to_string(s / 3600) + "h";
  if (s >= 60) out += std::to_string(s / 60 % 60) + "m";
  return out + std::to_string(s % 60) + "s";
}

Counter& identity_refusals(const std::string& reason) {
  return metrics().counter("ironboot_agent_identity_refusals_total",
                           "Agent API requests refused for the machine's TPM identity, by reason", {{"reason", reason}});
}

// The registers and challenges that may present a boot token.
bool takes_boot_token(std::string_view path) { return path == "/agent/v1/register" || path == "/agent/v1/challenge"; }

template <class T>
const RequestError* error_of(const Parsed<T>& parsed) {
  return std::get_if<RequestError>(&parsed);
}

}  // namespace

AgentApiOptions AgentApiOptions::from(const Config& config) {
  AgentApiOptions o;
  o.auto_accept = config.discovery.auto_accept;
  o.lifecycle = {config.discovery.wipe};
  o.require_tpm = config.discovery.require_tpm;
  o.challenges.ttl = std::chrono::seconds(config.discovery.tpm_challenge_ttl_seconds);
  o.challenges.per_address = config.discovery.tpm_challenges_per_address;
  return o;
}

AgentApi::AgentApi(boost::asio::io_context& io, AgentApiOptions options, const Clock& clock,
                   NextBootIsAgent next_boot_is_agent)
    : io_(io), options_(options), clock_(clock), next_boot_is_agent_(std::move(next_boot_is_agent)) {}

AgentApi::~AgentApi() { alive_.reset(); }

void AgentApi::start(kube::ClusterContext& cluster, AgentSessions& sessions, RandomSource random) {
  cluster_ = &cluster;
  sessions_ = &sessions;
  random_ = std::move(random);
  challenges_.emplace(clock_, random_, options_.challenges);
  events_ = discovery_events(cluster);
  cluster.servers().add_handler(
      [this, alive = std::weak_ptr<int>(alive_)](const kube::ObjectPtr& old, const kube::ObjectPtr& now_obj) {
        if (!alive.expired()) on_server_event(old, now_obj);
      });
}

void AgentApi::stop() {
  stopped_ = true;
  check_polls(true);
}

const json::object* AgentApi::server(std::string_view name) const {
  return cluster_ ? cached(cluster_->servers(), name) : nullptr;
}

ServerLookup AgentApi::lookup() const {
  return [this](std::string_view name) { return server(name); };
}

std::string AgentApi::now() const { return format_rfc3339(clock_.now()); }

void AgentApi::write_server_status(const std::string& name, StatusPatch patch) {
  if (cluster_) write_status(cluster_->writes(), "servers", name, std::move(patch));
}

Instruction AgentApi::instruction_for(const json::object* srv) const {
  return next_instruction(srv, options_.lifecycle, next_boot_is_agent_(srv));
}

void AgentApi::on_server_event(const kube::ObjectPtr& old, const kube::ObjectPtr& now_obj) {
  if (!now_obj) return;
  const std::string name(objects::name_of(*now_obj));
  // The agent waiting on this Server learns of the change now, not at the next reconcile
  // (which a boot storm paces to seconds apart). Posted: the other handlers of this event
  // (class memberships) run first.
  if (polls_by_server_.count(name)) {
    boost::asio::post(io_, [this, alive = std::weak_ptr<int>(alive_), name] {
      if (!alive.expired()) check_polls_of(name);
    });
  }
  const bool created_here = pending_creates_.erase(name) > 0;
  // Accepted: false -> true, or created accepted by our own register (auto_accept). An object
  // first seen accepted otherwise (a restart's initial list) was accepted before.
  if (objects::spec_bool(*now_obj, "accepted") && (old ? !objects::spec_bool(*old, "accepted") : created_here)) {
    events_.normal(*now_obj, "Accepted",
                   old ? "spec.accepted set to true" : "accepted at registration (discovery.auto_accept)");
  }
  // Accepting pins the recorded TPM identity, un-accepting unpins it (status.identity.pinned).
  if (status_for_pin(*now_obj, objects::spec_bool(*now_obj, "accepted"))) {
    write_server_status(name, [](const json::object& current) {
      return status_for_pin(current, objects::spec_bool(current, "accepted"));
    });
  }
  const auto& lifecycle = options_.lifecycle;
  if (auto patch = status_after_spec_change(old.get(), *now_obj, lifecycle, now())) {
    logger("discovery")->info("server lifecycle name={} accepted={} isClean={}", name,
                              objects::spec_bool(*now_obj, "accepted"),
                              patch->at("status").as_object().at("isClean").as_bool());
    write_server_status(name, [old, lifecycle, stamp = now()](const json::object& current) {
      return status_after_spec_change(old.get(), current, lifecycle, stamp);
    });
  }
}

void AgentApi::register_routes(http::Router& router) {
  // Every agent route is authenticated from its headers before the server reads the body.
  router.guard_prefix("/agent/v1/", [this](http::Request& head) { return authenticate(head); });
  router.add("POST", "/agent/v1/challenge", [this](const http::Request& r) { return handle_challenge(r); });
  router.add("POST", "/agent/v1/register", [this](const http::Request& r) { return handle_register(r); });
  router.add_async("GET", "/agent/v1/instructions",
                   [this](const http::Request& r, http::Responder respond) { handle_instructions(r, std::move(respond)); });
  router.add("POST", "/agent/v1/heartbeat", [this](const http::Request& r) { return handle_heartbeat(r); });
  router.add("POST", "/agent/v1/progress", [this](const http::Request& r) { return handle_progress(r); });
  router.add("POST", "/agent/v1/wiped", [this](const http::Request& r) { return handle_wiped(r); });
  router.add("POST", "/agent/v1/addresses", [this](const http::Request& r) { return handle_addresses(r); });
}

std::optional<http::Response> AgentApi::authenticate(http::Request& head) {
  if (!sessions_ || !cluster_) return error_response(503, "discovery not started");
  auto token = bearer_token(head.header("Authorization"));
  if (!token) return refuse(head, TokenError::missing, "no bearer token", std::nullopt);
  TokenError error{};
  const bool registering = takes_boot_token(head.path);
  auto verified = sessions_->authenticate(*token, head.peer_address(), registering, error);
  if (!verified) {
    std::string why = std::string("token ") + to_string(error);
    if (error == TokenError::wrong_kind) why += registering ? " (register takes a boot or session token)" : " (a session token is needed)";
    return refuse(head, error, why, unverified_claims(*token));
  }
  Caller caller;
  caller.server_name = server_name_for_agent(verified->uuid, verified->mac, lookup());
  caller.claims = std::move(*verified);
  // A Server pinned to a TPM takes orders only from the boot that proved it; register and
  // challenge are how a boot proves it, so they pass.
  if (!registering) {
    const json::object* srv = server(caller.server_name);
    const auto proven = proven_boots_.find(caller.server_name);
    const bool proven_here = proven != proven_boots_.end() && proven->second == caller.claims.nonce;
    if (srv && !proven_here && !session_may_act(*srv, caller.claims.nonce))
      return refuse_identity(head, caller.server_name, "identity_mismatch", "IdentityMismatch",
                             "this session's boot did not prove the TPM the Server is pinned to; register again");
  }
  head.guarded = std::move(caller);
  return std::nullopt;
}

http::Response AgentApi::refuse_identity(const http::Request& request, const std::string& server_name,
                                         const std::string& reason, const char* event_reason, const std::string& why,
                                         int status) const {
  identity_refusals(reason).inc();
  logger("discovery")->warn("agent identity refused reason={} server={} why=\"{}\" method={} path={} peer={}", reason,
                            server_name, why, request.method, request.path, request.peer);
  if (const json::object* srv = server(server_name); srv && event_reason)
    events_.warning(*srv, event_reason, why + "; " + request.method + " " + request.path + " from " + request.peer_address());
  // The reason first: the agent shows the first 200 characters of a refusal.
  return json_response(status, json::object{{"reason", reason}, {"error", why}});
}

http::Response AgentApi::handle_challenge(const http::Request& request) {
  const Caller* caller = caller_of(request);
  if (!caller || !challenges_) return error_response(401, "not authenticated");
  auto parsed = parse_challenge_request(request.body);
  if (const auto* err = error_of(parsed)) return error_response(err->status, err->message);
  auto issued = challenges_->issue(caller->claims, request.peer_address(), std::get<ChallengeRequest>(parsed));
  if (const auto* refused = std::get_if<AttestationRefusal>(&issued)) {
    auto response = refuse_identity(request, caller->server_name, refused->reason, nullptr, refused->message, refused->status);
    if (refused->status == 429) response.set("Retry-After", std::to_string(options_.challenges.ttl.count()));
    return response;
  }
  const auto& c = std::get<IssuedChallenge>(issued);
  logger("discovery")->debug("tpm challenge issued server={} peer={} outstanding={}", caller->server_name, request.peer,
                             challenges_->outstanding());
  return json_response(200, json::object{{"challenge", c.id},
                                         {"idObject", tpm::to_hex(c.id_object)},
                                         {"encryptedSecret", tpm::to_hex(c.encrypted_secret)},
                                         {"expiresInSeconds", c.expires_in.count()}});
}

void AgentApi::write_identity(const std::string& name, const std::optional<ProvenIdentity>& proven,
                              const std::string& boot_nonce) {
  if (proven) proven_boots_[name] = boot_nonce;
  else proven_boots_.erase(name);
  const json::object* srv = server(name);
  const json::object* status = srv ? objects::status_of(*srv) : nullptr;
  const json::object* recorded = status ? objects::object_at(*status, "identity") : nullptr;
  if (proven && srv && (!recorded || objects::string_at(*recorded, "ekSha256") != proven->ek_sha256))
    events_.normal(*srv, "IdentityVerified",
                   "TPM EK " + proven->ek_sha256 + " proven by credential activation (AK " + proven->ak_name + ")");
  write_server_status(name, [proven, boot_nonce, stamp = now()](const json::object& current) -> std::optional<json::object> {
    const auto* st = objects::status_of(current);
    if (!proven && !(st && st->if_contains("identity"))) return std::nullopt;
    return status_for_identity(proven, boot_nonce, objects::spec_bool(current, "accepted"), stamp);
  });
}

http::Response AgentApi::refuse(const http::Request& request, TokenError reason, const std::string& why,
                                const std::optional<TokenClaims>& claimed) const {
  rejections(reason).inc();
  logger("discovery")->info("agent refused reason={} why=\"{}\" method={} path={} peer={}", to_string(reason), why,
                            request.method, request.path, request.peer);
  if (claimed) {
    if (const json::object* srv = server(server_name_for_agent(claimed->uuid, claimed->mac, lookup())))
      events_.warning(*srv, "AgentTokenRejected",
                      why + "; " + request.method + " " + request.path + " from " + request.peer_address());
  }
  return json_response(401, json::object{{"error", why}, {"reason", to_string(reason)}});
}

const AgentApi::Caller* AgentApi::caller_of(const http::Request& request) {
  return std::any_cast<Caller>(&request.guarded);
}

http::Response AgentApi::with_session(const Caller& caller, http::Response response) const {
  if (!sessions_) return response;
  if (std::string renewed = sessions_->renewal(caller.claims); !renewed.empty())
    response.set(std::string(kSessionHeader), std::move(renewed));
  return response;
}

http::Response AgentApi::handle_register(const http::Request& request) {
  const Caller* authenticated = caller_of(request);
  if (!authenticated) return error_response(401, "not authenticated");
  const TokenClaims& claims = authenticated->claims;
  auto parsed = parse_register(request.body);
  if (const auto* err = error_of(parsed)) {
    logger("discovery")->debug("register refused reason=\"{}\" peer={}", err->message, request.peer);
    return error_response(err->status, err->message);
  }
  const auto& report = std::get<RegisterReport>(parsed);
  if (!report_matches_token(report, claims)) {
    return refuse(request, TokenError::wrong_machine,
                  "register uuid " + (report.uuid.empty() ? std::string("(none)") : report.uuid) + " / bootMac " +
                      report.boot_mac + " differ from the token's",
                  claims);
  }
  std::optional<ProvenIdentity> proven;
  if (report.tpm) {
    auto redeemed = challenges_->redeem(*report.tpm, claims, request.peer_address());
    if (const auto* refused = std::get_if<AttestationRefusal>(&redeemed))
      return refuse_identity(request, server_name_for_agent(claims.uuid, claims.mac, lookup()), refused->reason,
                             "AttestationFailed", refused->message, refused->status);
    proven = std::move(std::get<ProvenIdentity>(redeemed));
  }
  RegisterPlan plan = plan_register(report, lookup(), RegisterOptions{options_.auto_accept}, now());
  // Before anything is written: a Server pinned to a TPM changes only for that TPM.
  const IdentityDecision identity = check_identity(server(plan.server_name), proven, options_.require_tpm);
  if (identity.verdict == IdentityDecision::Verdict::mismatch)
    return refuse_identity(request, plan.server_name, "identity_mismatch", "IdentityMismatch", identity.message);
  if (identity.verdict == IdentityDecision::Verdict::tpm_required)
    return refuse_identity(request, plan.server_name, "tpm_required", "IdentityRequired", identity.message);
  auto log = logger("discovery");
  // Nothing is answered 200 that the write queue would refuse: during a long outage a full
  // queue makes the agent retry (it asks for a fresh TPM challenge each time).
  std::size_t write_bytes = 0;
  for (const auto& w : plan.writes) write_bytes += kube::json_heap_bytes(w.body);
  if (cluster_ && !cluster_->writes().has_room(write_bytes)) {
    log->warn("register refused reason=write_queue_full server={} bytes={} peer={}", plan.server_name, write_bytes,
              request.peer);
    auto response = error_response(503, "the write queue to the cluster API is full; retry later");
    response.set("Retry-After", "10");
    return response;
  }
  if (plan.duplicate_uuid) {
    log->error("duplicate uuid {}", plan.duplicate_message);
    if (const auto* first = server(plan.duplicate_of)) events_.warning(*first, "DuplicateUUID", plan.duplicate_message);
    if (const auto* second = server(plan.server_name)) events_.warning(*second, "DuplicateUUID", plan.duplicate_message);
  }
  log->info("register server={} uuid={} mac={} synthetic_uuid={} peer={}", plan.server_name, report.uuid,
            report.boot_mac, plan.synthetic_uuid, request.peer);

  for (auto& w : plan.writes) {
    switch (w.kind) {
      case ServerWrite::Kind::create:
      case ServerWrite::Kind::merge_patch: {
        // Created when missing; otherwise only ironboot's annotations and spec.hardware change.
        json::object annotations, hardware;
        if (const auto* md = objects::object_at(w.body, "metadata"))
          if (const auto* a = objects::object_at(*md, "annotations")) annotations = *a;
        if (w.name == plan.server_name) {
          if (proven) annotations[kEkAnnotation] = proven->ek_sha256;
          else annotations[kEkAnnotation] = nullptr;  // removed: an unpinned machine that proved nothing
        }
        if (const auto* spec = objects::object_at(w.body, "spec"))
          if (const auto* h = objects::object_at(*spec, "hardware")) hardware = *h;
        const std::string name = w.name;
        write_registered_server(name, annotations, hardware,
                                "registered by the agent: boot MAC " + report.boot_mac + ", uuid " +
                                    (report.uuid.empty() ? std::string("(none)") : report.uuid) +
                                    (plan.synthetic_uuid ? " (named after the boot MAC)" : "") +
                                    (proven && w.name == plan.server_name ? ", TPM EK " + proven->ek_sha256 + " proven" : ""));
        if (!server(name)) pending_creates_.insert(name);
        break;
      }
      case ServerWrite::Kind::status_patch: {
        json::object body = w.body;
        write_server_status(w.name, [body](const json::object&) -> std::optional<json::object> { return body; });
        break;
      }
    }
  }
  write_identity(plan.server_name, proven, claims.nonce);
  // The boot token (or the session of a register again) becomes this boot's session; a newer
  // boot of the machine now supersedes every older one.
  Caller caller{claims, plan.server_name};
  const std::string session = sessions_->open_session(claims);
  caller.claims.kind = TokenKind::session;
  const Instruction next = hand_out(caller);
  json::object answer{{"server", plan.server_name}, {"instruction", next.to_json()}, {"session", session}};
  if (register_hook_)
    for (auto& [key, value] : register_hook_(plan.server_name, report)) answer[key] = value;
  auto response = json_response(200, answer);
  response.set(std::string(kSessionHeader), session);
  return response;
}

void AgentApi::write_registered_server(const std::string& name, const json::object& annotations,
                                       const json::object& hardware, const std::string& registered_message) {
  // What the mutation did the last time it ran (a conflict runs it again).
  struct Outcome {
    bool created = false;
    std::string changes;  // FactsUpdated message
  };
  auto outcome = std::make_shared<Outcome>();
  const bool auto_accept = options_.auto_accept;
  // Tagged: during an outage only the latest boot's facts are kept for the Server.
  cluster_->writes().enqueue_superseding(
      "servers", name, "facts",
      [annotations, hardware, name, auto_accept, outcome](const json::object* current) -> std::optional<json::object> {
        *outcome = Outcome{};
        if (!current) {
          outcome->created = true;
          json::object created_annotations;
          for (const auto& [key, value] : annotations)
            if (!value.is_null()) created_annotations[key] = value;  // a null only removes from an existing one
          return json::object{{"apiVersion", kube::kApiVersion},
                              {"kind", "Server"},
                              {"metadata", json::object{{"name", name}, {"annotations", created_annotations}}},
                              {"spec", json::object{{"accepted", auto_accept}, {"hardware", hardware}}}};
        }
        json::object patch{{"metadata", json::object{{"annotations", annotations}}},
                           {"spec", json::object{{"hardware", json::value(nullptr)}}}};
        // Replace hardware as a whole (stale facts disappear): remove, then set.
        json::value next = kube::merge_patch(*current, patch);
        next.as_object()["spec"].as_object()["hardware"] = hardware;
        if (next == json::value(*current)) return std::nullopt;
        const auto* spec = objects::spec_of(*current);
        const auto* before = spec ? objects::object_at(*spec, "hardware") : nullptr;
        outcome->changes = describe_hardware_changes(before ? *before : json::object{}, hardware);
        return next.as_object();
      },
      [this, alive = std::weak_ptr<int>(alive_), outcome, registered_message](const kube::ApiReply& reply) {
        if (alive.expired() || !reply.ok() || !reply.object()) return;
        if (outcome->created) events_.normal(*reply.object(), "Registered", registered_message);
        else if (!outcome->changes.empty()) events_.normal(*reply.object(), "FactsUpdated", outcome->changes);
      },
      false, kube::json_heap_bytes(annotations) + kube::json_heap_bytes(hardware) + registered_message.size());
}

Instruction AgentApi::hand_out(const Caller& caller, const json::object* as_of, bool replace_outstanding) {
  const std::string& server_name = caller.server_name;
  const json::object* srv = as_of ? as_of : server(server_name);
  Instruction next = instruction_for(srv);
  if (!srv || next.action != Instruction::Action::wipe) return next;
  const std::string& nonce = caller.claims.nonce;
  auto issued = wipes_.find(server_name);
  if (issued != wipes_.end() && issued->second.nonce == nonce) {
    next.wipe_id = issued->second.id;
    return next;
  }
  // A heartbeat during a wipe this session was handed before a restart: the agent is busy
  // with that id (only its digest survived), so a new one must not replace it.
  if (!replace_outstanding && wipe_outstanding_for(*srv, nonce)) return next;
  std::string id = random_hex128(random_);
  if (id.empty()) {
    logger("discovery")->error("wipe not handed out server={} reason=\"no random bytes for a wipe id\"", server_name);
    return Instruction::wait();
  }
  // A new id for this session (a first wipe, a new boot, or a restart that forgot the old
  // one): its digest replaces the one in the status, so only this id counts from now on.
  wipes_[server_name] = IssuedWipe{id, nonce};
  next.wipe_id = id;
  if (!objects::condition_is_true(*srv, "Wiping")) {
    logger("discovery")->info("wipe requested server={} mode={}", server_name, next.mode);
    events_.normal(*srv, "WipeStarted", "wipe handed to the agent: mode " + next.mode + ", disks " + reported_disks(*srv));
  }
  write_server_status(server_name, [mode = next.mode, stamp = now(), id, nonce](const json::object& current) {
    return std::optional<json::object>(status_for_wipe_started(current, mode, stamp, id, nonce));
  });
  return next;
}

void AgentApi::handle_instructions(const http::Request& request, http::Responder respond) {
  const Caller* authenticated = caller_of(request);
  if (!authenticated) return respond(error_response(401, "not authenticated"));
  const Caller caller = *authenticated;
  const auto wait = parse_poll_wait(http::query_value(request.query, "wait"));
  if (!wait) return respond(error_response(400, "wait: must be a non-negative integer"));
  if (!server(caller.server_name) && cluster_->servers().synced() && !pending_creates_.count(caller.server_name))
    return respond(error_response(404, "no Server " + caller.server_name + "; register again"));
  const Instruction current = hand_out(caller);
  if (current.action != Instruction::Action::wait || wait->count() == 0 || stopped_)
    return respond(with_session(caller, json_response(200, current.to_json())));
  const std::uint64_t id = next_poll_id_++;
  auto timer = std::make_shared<boost::asio::steady_timer>(io_, *wait);
  std::weak_ptr<int> alive = alive_;
  timer->async_wait([this, alive, id](const boost::system::error_code& ec) {
    if (!ec && !alive.expired()) answer_poll(id);
  });
  polls_by_server_.emplace(caller.server_name, id);
  polls_.emplace(id, Poll{caller, current, std::move(respond), std::move(timer)});
}

void AgentApi::recheck_polls() {
  if (poll_check_scheduled_ || polls_.empty()) return;
  poll_check_scheduled_ = true;
  std::weak_ptr<int> alive = alive_;
  boost::asio::post(io_, [this, alive] {
    if (alive.expired()) return;
    poll_check_scheduled_ = false;
    check_polls(false);
  });
}

void AgentApi::check_polls(bool answer_all) {
  std::vector<std::uint64_t> due;
  for (const auto& [id, poll] : polls_) {
    if (answer_all || instruction_changed(poll.known, instruction_for(server(poll.caller.server_name))))
      due.push_back(id);
  }
  for (auto id : due) answer_poll(id);
}

void AgentApi::check_polls_of(const std::string& server_name) {
  std::vector<std::uint64_t> due;
  const auto [first, last] = polls_by_server_.equal_range(server_name);
  if (first == last) return;
  const Instruction current = instruction_for(server(server_name));
  for (auto it = first; it != last; ++it) {
    auto poll = polls_.find(it->second);
    if (poll != polls_.end() && instruction_changed(poll->second.known, current)) due.push_back(it->second);
  }
  for (auto id : due) answer_poll(id);
}

void AgentApi::answer_poll(std::uint64_t id) {
  auto it = polls_.find(id);
  if (it == polls_.end()) return;
  Poll poll = std::move(it->second);
  polls_.erase(it);
  const auto [first, last] = polls_by_server_.equal_range(poll.caller.server_name);
  for (auto at = first; at != last; ++at) {
    if (at->second == id) {
      polls_by_server_.erase(at);
      break;
    }
  }
  poll.timer->cancel();
  poll.respond(with_session(poll.caller, json_response(200, hand_out(poll.caller).to_json())));
}

http::Response AgentApi::handle_heartbeat(const http::Request& request) {
  const Caller* caller = caller_of(request);
  if (!caller) return error_response(401, "not authenticated");
  if (!request.body.empty()) {
    std::string error;
    auto body = kube::parse_json(request.body, &error);
    if (!body || !body->is_object()) return error_response(400, "body must be a JSON object");
  }
  return with_session(*caller,
                      json_response(200, json::object{{"instruction", hand_out(*caller, nullptr, false).to_json()}}));
}

http::Response AgentApi::handle_progress(const http::Request& request) {
  const Caller* caller = caller_of(request);
  if (!caller) return error_response(401, "not authenticated");
  auto parsed = parse_progress(request.body);
  if (const auto* err = error_of(parsed)) return error_response(err->status, err->message);
  const auto& p = std::get<ProgressReport>(parsed);
  logger("discovery")->debug("wipe progress server={} device={} done={} total={}", caller->server_name, p.device,
                             p.done, p.total);
  return with_session(*caller, http::text_response(204, ""));
}

http::Response AgentApi::handle_wiped(const http::Request& request) {
  const Caller* caller = caller_of(request);
  if (!caller) return error_response(401, "not authenticated");
  auto parsed = parse_wiped(request.body);
  if (const auto* err = error_of(parsed)) return error_response(err->status, err->message);
  const auto& report = std::get<WipedReport>(parsed);
  const std::string& name = caller->server_name;
  const json::object* srv = server(name);
  if (!srv) return error_response(404, "no Server " + name + "; register again");
  // The exchange: this session's wipe id, handed out by this process (its status write may
  // still be on its way) or recorded in the status (before a restart).
  const auto issued = wipes_.find(name);
  const bool issued_here = issued != wipes_.end() && issued->second.nonce == caller->claims.nonce &&
                           !report.wipe_id.empty() && issued->second.id == report.wipe_id &&
                           objects::spec_bool(*srv, "accepted") && !objects::status_bool(*srv, "isClean");
  if (!issued_here) {
    if (std::string refused = check_wipe_exchange(*srv, report.wipe_id, caller->claims.nonce); !refused.empty()) {
      logger("discovery")->warn("wiped refused server={} why=\"{}\" peer={}", name, refused, request.peer);
      events_.warning(*srv, "WipeReportRefused", refused + "; from " + request.peer_address());
      return with_session(*caller, json_response(409, json::object{{"error", "wiped refused: " + refused}}));
    }
  }
  wipes_.erase(name);
  const std::string stamp = now();
  auto patch = status_for_wiped(*srv, report, stamp);
  if (!patch) return with_session(*caller, json_response(200, json::object{{"instruction", hand_out(*caller).to_json()}}));
  logger("discovery")->info("wiped server={} mode={} devices={}", name, report.mode, report.devices.size());
  std::string devices;
  for (const auto& d : report.devices) devices += (devices.empty() ? "" : ", ") + d;
  const std::string took = wipe_duration(*srv, clock_.now());
  std::string failed;
  for (const auto& f : report.failed) failed += (failed.empty() ? "" : ", ") + f;
  if (!failed.empty())
    events_.warning(*srv, "WipeFailed", "mode " + report.mode + ", failed " + failed);
  else
    events_.normal(*srv, "Wiped",
                   "mode " + report.mode + ", devices " + (devices.empty() ? std::string("none") : devices) +
                       (took.empty() ? "" : ", took " + took));
  write_server_status(name,
                      [report, stamp](const json::object& current) { return status_for_wiped(current, report, stamp); });
  // Answer with what follows once the write lands (normally reboot).
  json::value after = kube::merge_patch(*srv, *patch);
  const Instruction next = hand_out(*caller, &after.as_object());
  return with_session(*caller, json_response(200, json::object{{"instruction", next.to_json()}}));
}

http::Response AgentApi::handle_addresses(const http::Request& request) {
  const Caller* caller = caller_of(request);
  if (!caller) return error_response(401, "not authenticated");
  auto parsed = parse_addresses(request.body);
  if (const auto* err = error_of(parsed)) return error_response(err->status, err->message);
  if (!server(caller->server_name))
    return error_response(404, "no Server " + caller->server_name + "; register again");
  json::object patch = status_for_addresses(std::get<AddressesReport>(parsed));
  write_server_status(caller->server_name,
                      [patch](const json::object&) -> std::optional<json::object> { return patch; });
  return with_session(*caller, http::text_response(204, ""));
}

}  // namespace ironboot::discovery
