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
  std::string mode;  // wipe: fast | full

  static Instruction wait() { return {}; }
  static Instruction wipe(std::string mode) { return {Action::wipe, std::move(mode)}; }
  static Instruction reboot() { return {Action::reboot, {}}; }
  static Instruction poweroff() { return {Action::poweroff, {}}; }

  bool operator==(const Instruction&) const = default;
  // {"action": "wipe", "mode": "fast"}
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

// Status merge patch when a wipe instruction is handed to the agent (Wiping True).
boost::json::object status_for_wipe_started(const boost::json::object& server, std::string_view mode,
                                            std::string_view now);
// Status merge patch for POST wiped: isClean true, Clean True, Wiping False, PXEBooted False
// (a fresh disk needs its Environment again). nullopt when the Server is no longer accepted
// (un-accepted while wiping: stays unclean).
std::optional<boost::json::object> status_for_wiped(const boost::json::object& server, const WipedReport& report,
                                                    std::string_view now);
// Status merge patch for POST addresses.
boost::json::object status_for_addresses(const AddressesReport& report);

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
