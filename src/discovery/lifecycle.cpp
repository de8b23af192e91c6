#include "discovery/lifecycle.hpp"

#include "discovery/token.hpp"
#include "kube/objects.hpp"

#include <charconv>

namespace ironboot::discovery {

namespace json = boost::json;
using objects::Condition;

namespace {

const json::array* conditions_of(const json::object& server) {
  const auto* status = objects::status_of(server);
  return status ? objects::array_at(*status, "conditions") : nullptr;
}

}  // namespace

const char* to_string(Instruction::Action action) {
  switch (action) {
    case Instruction::Action::wait: return "wait";
    case Instruction::Action::wipe: return "wipe";
    case Instruction::Action::reboot: return "reboot";
    case Instruction::Action::poweroff: return "poweroff";
  }
  return "wait";
}

json::object Instruction::to_json() const {
  json::object o{{"action", to_string(action)}};
  if (action == Action::wipe) o["mode"] = mode;
  if (action == Action::wipe && !wipe_id.empty()) o["wipeId"] = wipe_id;
  return o;
}

Instruction next_instruction(const json::object* server, const LifecycleOptions& options, bool next_boot_is_agent) {
  if (!server || !objects::spec_bool(*server, "accepted")) return Instruction::wait();
  if (!objects::status_bool(*server, "isClean")) {
    // With wipe "none" status_after_spec_change marks the Server clean; until that write
    // lands there is nothing to wipe.
    if (options.wipe_mode == WipeMode::none) return Instruction::wait();
    return Instruction::wipe(to_string(options.wipe_mode));
  }
  return next_boot_is_agent ? Instruction::wait() : Instruction::reboot();
}

std::optional<json::object> status_after_spec_change(const json::object* before, const json::object& after,
                                                     const LifecycleOptions& options, std::string_view now) {
  const bool was_accepted = before && objects::spec_bool(*before, "accepted");
  const bool accepted = objects::spec_bool(after, "accepted");
  const bool clean = objects::status_bool(after, "isClean");
  if (was_accepted && !accepted) {
    auto conditions = objects::with_condition(conditions_of(after),
                                              Condition{"Clean", false, "NotAccepted", "un-accepted; wiped again "
                                                                                       "when accepted"},
                                              now);
    conditions = objects::with_condition(&conditions, Condition{"PXEBooted", false, "NotAccepted", ""}, now);
    if (!clean && objects::find_condition(after, "Clean") && !objects::condition_is_true(after, "Clean") &&
        !objects::condition_is_true(after, "PXEBooted"))
      return std::nullopt;  // already recorded
    return json::object{{"status", json::object{{"isClean", false}, {"conditions", std::move(conditions)}}}};
  }
  if (accepted && !clean && options.wipe_mode == WipeMode::none) {
    auto conditions = objects::with_condition(
        conditions_of(after), Condition{"Clean", true, "WipeDisabled", "discovery.wipe is none"}, now);
    return json::object{{"status", json::object{{"isClean", true}, {"conditions", std::move(conditions)}}}};
  }
  return std::nullopt;
}

json::object status_for_wipe_started(const json::object& server, std::string_view mode, std::string_view now,
                                     std::string_view wipe_id, std::string_view session_nonce) {
  auto conditions = objects::with_condition(
      conditions_of(server), Condition{"Wiping", true, "WipeRequested", "mode " + std::string(mode)}, now);
  json::object request{{"idSha256", sha256_hex(wipe_id)}, {"sessionSha256", sha256_hex(session_nonce)},
                       {"issuedAt", now}};
  return json::object{{"status", json::object{{"conditions", std::move(conditions)}, {"wipeRequest", std::move(request)}}}};
}

bool wipe_outstanding_for(const json::object& server, std::string_view session_nonce) {
  const auto* status = objects::status_of(server);
  const auto* request = status ? objects::object_at(*status, "wipeRequest") : nullptr;
  return request && objects::spec_bool(server, "accepted") && objects::condition_is_true(server, "Wiping") &&
         objects::string_at(*request, "sessionSha256") == sha256_hex(session_nonce);
}

std::string check_wipe_exchange(const json::object& server, std::string_view wipe_id, std::string_view session_nonce) {
  if (!objects::spec_bool(server, "accepted")) return "the Server is not accepted";
  if (!objects::condition_is_true(server, "Wiping")) return "the Server is not wiping";
  if (wipe_id.empty()) return "wipeId missing";
  const auto* status = objects::status_of(server);
  const auto* request = status ? objects::object_at(*status, "wipeRequest") : nullptr;
  if (!request) return "no wipe was handed out";
  // Digests are compared, so a plain comparison leaks nothing about the id itself.
  const std::string session_digest = sha256_hex(session_nonce), id_digest = sha256_hex(wipe_id);
  if (session_digest.empty() || id_digest.empty()) return "cannot hash the wipe id";
  if (objects::string_at(*request, "sessionSha256") != session_digest) return "the wipe was handed to another session";
  if (objects::string_at(*request, "idSha256") != id_digest) return "wrong wipeId";
  return {};
}

std::optional<json::object> status_for_wiped(const json::object& server, const WipedReport& report,
                                             std::string_view now) {
  if (!objects::spec_bool(server, "accepted")) return std::nullopt;
  auto join = [](const std::vector<std::string>& v) {
    std::string out;
    for (const auto& d : v) out += (out.empty() ? "" : ", ") + d;
    return out;
  };
  const std::string devices = join(report.devices);
  const std::string skipped = report.skipped.empty() ? "" : "; skipped " + join(report.skipped);
  if (!report.failed.empty()) {
    // Never clean: the next instruction is the wipe again.
    const std::string why = report.mode + ": failed " + join(report.failed) + skipped;
    auto conditions = objects::with_condition(conditions_of(server), Condition{"Wiping", false, "Failed", why}, now);
    conditions = objects::with_condition(&conditions, Condition{"WipeFailed", true, "WipeFailed", why}, now);
    conditions = objects::with_condition(&conditions, Condition{"Clean", false, "WipeFailed", why}, now);
    return json::object{{"status", json::object{{"isClean", false},
                                                 {"conditions", std::move(conditions)},
                                                 {"wipeRequest", nullptr}}}};
  }
  auto conditions = objects::with_condition(conditions_of(server),
                                            Condition{"Wiping", false, "Done", "mode " + report.mode}, now);
  if (objects::condition_is_true(server, "WipeFailed"))
    conditions = objects::with_condition(&conditions, Condition{"WipeFailed", false, "Wiped", ""}, now);
  conditions = objects::with_condition(
      &conditions,
      Condition{"Clean", true, "Wiped", report.mode + ": " + (devices.empty() ? "no disks" : devices) + skipped}, now);
  conditions = objects::with_condition(&conditions, Condition{"PXEBooted", false, "Wiped", ""}, now);
  return json::object{
      {"status", json::object{{"isClean", true}, {"conditions", std::move(conditions)}, {"wipeRequest", nullptr}}}};
}

json::object status_for_addresses(const AddressesReport& report) {
  json::array addresses;
  for (const auto& a : report.addresses) addresses.push_back(json::object{{"type", a.type}, {"address", a.address}});
  return json::object{{"status", json::object{{"addresses", std::move(addresses)}}}};
}

const char* to_string(ServerState state) {
  switch (state) {
    case ServerState::Registering: return "Registering";
    case ServerState::Inspecting: return "Inspecting";
    case ServerState::Available: return "Available";
    case ServerState::Provisioning: return "Provisioning";
    case ServerState::Provisioned: return "Provisioned";
    case ServerState::Deprovisioning: return "Deprovisioning";
    case ServerState::Error: break;
  }
  return "Error";
}

namespace {

bool has_facts(const json::object& server) {
  const auto* spec = objects::spec_of(server);
  const auto* hw = spec ? objects::object_at(*spec, "hardware") : nullptr;
  return hw && !hw->empty();
}

// The Environment the Server booted (PXEBooted True names it), or "".
std::string_view booted_environment(const json::object& server) {
  const auto* c = objects::find_condition(server, "PXEBooted");
  if (!c || objects::string_at(*c, "status") != "True") return {};
  return objects::string_at(*c, "message");
}

}  // namespace

ServerStateView server_state(const json::object& server, std::string_view environment, std::string_view error) {
  if (!error.empty()) return {ServerState::Error, std::string(error)};
  if (!has_facts(server)) return {ServerState::Registering, "waiting for the discovery agent's first report"};
  if (!objects::spec_bool(server, "accepted")) return {ServerState::Inspecting, "waiting for spec.accepted"};
  if (!objects::status_bool(server, "isClean")) return {ServerState::Deprovisioning, "wiping the disks"};
  const auto booted = booted_environment(server);
  if (!booted.empty() && (environment.empty() || environment == booted))
    return {ServerState::Provisioned, "booted environment " + std::string(booted)};
  if (!environment.empty()) return {ServerState::Provisioning, "booting environment " + std::string(environment)};
  return {ServerState::Available, ""};
}

std::optional<json::object> status_for_state(const json::object& server, const ServerStateView& view,
                                             std::string_view now) {
  const bool error = view.state == ServerState::Error;
  const auto* status = objects::status_of(server);
  const std::string_view current = status ? objects::string_at(*status, "state") : std::string_view{};
  const std::string_view current_error = status ? objects::string_at(*status, "errorMessage") : std::string_view{};
  const auto* lifecycle = objects::find_condition(server, "Lifecycle");
  const Condition condition{"Lifecycle", !error, error ? "Error" : to_string(view.state), view.message};
  const bool want_in_use = view.state == ServerState::Provisioned && !objects::status_bool(server, "inUse");
  if (current == to_string(view.state) && current_error == (error ? view.message : "") && lifecycle &&
      objects::string_at(*lifecycle, "status") == (condition.status ? "True" : "False") &&
      objects::string_at(*lifecycle, "reason") == condition.reason &&
      objects::string_at(*lifecycle, "message") == condition.message && !want_in_use)
    return std::nullopt;
  json::object out{{"state", to_string(view.state)},
                   {"errorMessage", error ? json::value(view.message) : json::value(nullptr)},
                   {"conditions", objects::with_condition(conditions_of(server), condition, now)}};
  if (want_in_use) out["inUse"] = true;
  return json::object{{"status", std::move(out)}};
}

std::string deprovision_trigger(const json::object* before, const json::object& after) {
  if (!objects::spec_bool(after, "accepted")) return {};
  if (const auto* a = objects::annotations_of(after); a && a->contains(kDeprovisionAnnotation))
    return std::string("annotation ") + std::string(kDeprovisionAnnotation);
  if (!before) return {};
  const auto was = objects::environment_ref_name(*before);
  if (!was.empty() && objects::environment_ref_name(after).empty() && booted_environment(after) == was &&
      objects::status_bool(after, "isClean"))
    return "spec.environmentRef " + std::string(was) + " removed";
  return {};
}

json::object status_for_deprovision(const json::object& server, std::string_view why, std::string_view now) {
  auto conditions = objects::with_condition(conditions_of(server),
                                            Condition{"Clean", false, "Deprovisioning", std::string(why)}, now);
  conditions = objects::with_condition(&conditions, Condition{"PXEBooted", false, "Deprovisioning", ""}, now);
  return json::object{
      {"status", json::object{{"isClean", false}, {"inUse", false}, {"conditions", std::move(conditions)}}}};
}

PowerStep lifecycle_power_step(const PowerStepInputs& in) {
  const ServerState state = in.view.state;
  const bool entered = !in.previous || *in.previous != state;
  const bool may_power_on = in.online != false;
  if (state == ServerState::Registering && entered && may_power_on) return PowerStep::pxe_power_on;
  if (state == ServerState::Deprovisioning && (in.deprovision_started || in.agent_overdue) && may_power_on)
    return PowerStep::pxe_power_on;
  if (state == ServerState::Available && in.previous && *in.previous != state && in.power_off_available &&
      in.online != true)
    return PowerStep::power_off;
  return PowerStep::none;
}

std::optional<std::chrono::seconds> parse_poll_wait(std::optional<std::string_view> value) {
  if (!value || value->empty()) return kDefaultPollWait;
  long long n = 0;
  const auto [end, ec] = std::from_chars(value->data(), value->data() + value->size(), n);
  if (ec == std::errc::result_out_of_range && end == value->data() + value->size()) return kMaxPollWait;
  if (ec != std::errc{} || end != value->data() + value->size() || n < 0) return std::nullopt;
  return std::min(std::chrono::seconds(n), kMaxPollWait);
}

bool instruction_changed(const Instruction& known, const Instruction& current) { return !(known == current); }

bool poll_should_answer(const PendingPoll& poll, const Instruction& current, std::chrono::steady_clock::time_point now) {
  return instruction_changed(poll.known, current) || now >= poll.deadline;
}

}  // namespace ironboot::discovery
