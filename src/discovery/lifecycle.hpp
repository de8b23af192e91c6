// What the agent should do next, and the Server status changes of its lifecycle (pure):
// not accepted -> wait; accepted and not clean -> wipe; wiped -> isClean true -> reboot into
// whatever the boot policy chooses; un-accepted -> isClean false.
#pragma once

#include "common/config.hpp"
#include "discovery/reports.hpp"

#include <boost/json/object.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace ironboot::discovery {

struct Instruction {
  enum class Action { wait, wipe, reboot, poweroff };
  Action action = Action::wait;
  std::string mode;  // wipe: fast | full | secure
  std::string wipe_id;  // wipe: the one-time id the agent sends back with POST wiped ("" until handed out)

  static Instruction wait() { return {}; }
  static Instruction wipe(std::string mode) { return {Action::wipe, std::move(mode), {}}; }
  static Instruction reboot() { return {Action::reboot, {}, {}}; }
  static Instruction poweroff() { return {Action::poweroff, {}, {}}; }

  bool operator==(const Instruction&) const = default;
  // {"action": "wipe", "mode": "fast", "wipeId": "..."}
  boost::json::object to_json() const;
};
const char* to_string(Instruction::Action action);

struct LifecycleOptions {
  WipeMode wipe_mode = WipeMode::fast;  // discovery.wipe
};

// `server` is null when the object does not exist (deleted, or not written yet).
// `next_boot_is_agent`: what the boot policy would answer for this Server now; a clean
// machine is only told to reboot when that reboot leaves the agent (no reboot loops).
Instruction next_instruction(const boost::json::object* server, const LifecycleOptions& options,
                             bool next_boot_is_agent);

// Status merge patch after an operator changed the Server, or nullopt:
// - accepted true -> false: isClean false, Clean False, PXEBooted False (the next owner gets wiped disks);
// - accepted with discovery.wipe none and not clean: isClean true (reason WipeDisabled).
std::optional<boost::json::object> status_after_spec_change(const boost::json::object* before,
                                                            const boost::json::object& after,
                                                            const LifecycleOptions& options, std::string_view now);

// Status merge patch when a wipe instruction is handed to the agent: Wiping True, and
// status.wipeRequest {idSha256, sessionSha256} (the digests of the wipe id and of the boot
// nonce of the session it went to) so the exchange survives a restart.
boost::json::object status_for_wipe_started(const boost::json::object& server, std::string_view mode,
                                            std::string_view now, std::string_view wipe_id,
                                            std::string_view session_nonce);

// Whether POST wiped may change the Server (docs/agent-api.md "The wipe exchange"): the
// Server is accepted and Wiping, and its wipeRequest names this id and this session. "" when
// it may, else why not (the 409's message).
std::string check_wipe_exchange(const boost::json::object& server, std::string_view wipe_id,
                                std::string_view session_nonce);
// True when the Server is wiping with a wipe handed to this session (status.wipeRequest).
bool wipe_outstanding_for(const boost::json::object& server, std::string_view session_nonce);
// Status merge patch for POST wiped: isClean true, Clean True, Wiping False, PXEBooted False
// (a fresh disk needs its Environment again), wipeRequest removed (the id is used up). nullopt when the Server is no longer accepted
// (un-accepted while wiping: stays unclean).
std::optional<boost::json::object> status_for_wiped(const boost::json::object& server, const WipedReport& report,
                                                    std::string_view now);
// Status merge patch for POST addresses.
boost::json::object status_for_addresses(const AddressesReport& report);

// ---- The Server's lifecycle state (status.state, the Lifecycle condition); docs/bmc.md.
enum class ServerState { Registering, Inspecting, Available, Provisioning, Provisioned, Deprovisioning, Error };
const char* to_string(ServerState state);

// Operators ask for a wipe (and a return to Available) with this annotation (any value).
inline constexpr std::string_view kDeprovisionAnnotation = "ironboot.dev/deprovision";
// Metal3's reboot request: reboot once, then ironboot removes the annotation.
inline constexpr std::string_view kRebootAnnotation = "reboot.metal3.io";

struct ServerStateView {
  ServerState state = ServerState::Registering;
  std::string message;  // Error: the reason; otherwise what the state is about ("" when nothing to add)
  bool operator==(const ServerStateView&) const = default;
};

// `environment`: the Environment the boot policy would boot for it now ("" none); `error`:
// why it is in Error ("" when it is not: an invalid spec.bmc, a lifecycle power action that
// failed). Without facts (no spec.hardware) -> Registering; not accepted -> Inspecting; not
// clean -> Deprovisioning; booted an Environment (PXEBooted True naming it) -> Provisioned;
// an Environment to boot -> Provisioning; else Available.
ServerStateView server_state(const boost::json::object& server, std::string_view environment, std::string_view error);

// Status merge patch recording `view`: status.state, status.errorMessage, the Lifecycle
// condition, and status.inUse true once Provisioned. nullopt when the object already says so.
std::optional<boost::json::object> status_for_state(const boost::json::object& server, const ServerStateView& view,
                                                    std::string_view now);

// Why the Server must be deprovisioned now ("" none): the ironboot.dev/deprovision annotation
// on an accepted Server, or spec.environmentRef removed (before -> after) from one that booted it.
std::string deprovision_trigger(const boost::json::object* before, const boost::json::object& after);
// Status merge patch starting a deprovision: isClean false, inUse false, Clean and PXEBooted
// False (reason Deprovisioning), so the agent wipes it and it returns to Available.
boost::json::object status_for_deprovision(const boost::json::object& server, std::string_view why,
                                           std::string_view now);

// What the lifecycle needs from the BMC when the Server is in `view` (`previous`: the state
// the controller saw before, nullopt on first sight):
enum class PowerStep {
  none,
  pxe_power_on,  // next boot PXE (once), then power on (or cycle when it is on)
  power_off,     // Available: a clean, unused Server is powered off
};
struct PowerStepInputs {
  std::optional<ServerState> previous;
  ServerStateView view;
  std::optional<bool> online;     // spec.online
  bool power_off_available = true;  // bmc.power_off_available
  // Deprovisioning with no agent wiping it (no Wiping True) for longer than the grace time:
  // the machine runs something else and must be cycled into PXE.
  bool agent_overdue = false;
  bool deprovision_started = false;  // the controller just started a deprovision
};
// - entering Registering -> pxe_power_on; Deprovisioning just started, or overdue -> pxe_power_on;
// - entering Available from another state -> power_off (bmc.power_off_available, spec.online not true);
// - spec.online false never powers on.
PowerStep lifecycle_power_step(const PowerStepInputs& in);

// Long-poll bookkeeping for GET instructions?wait=N.
inline constexpr std::chrono::seconds kDefaultPollWait{30};
inline constexpr std::chrono::seconds kMaxPollWait{60};
// The wait query value ("" or absent -> 30 s; clamped to 60 s); nullopt when not a number.
std::optional<std::chrono::seconds> parse_poll_wait(std::optional<std::string_view> value);

struct PendingPoll {
  Instruction known = Instruction::wait();  // what the agent is waiting to see change
  std::chrono::steady_clock::time_point deadline;
};
// True when the waiting request must be answered now: the instruction differs from what the
// agent knows, or the deadline passed (answer with the current instruction).
bool instruction_changed(const Instruction& known, const Instruction& current);
bool poll_should_answer(const PendingPoll& poll, const Instruction& current, std::chrono::steady_clock::time_point now);

}  // namespace ironboot::discovery
