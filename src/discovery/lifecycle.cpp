#include "discovery/lifecycle.hpp"

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

json::object status_for_wipe_started(const json::object& server, std::string_view mode, std::string_view now) {
  auto conditions = objects::with_condition(
      conditions_of(server), Condition{"Wiping", true, "WipeRequested", "mode " + std::string(mode)}, now);
  return json::object{{"status", json::object{{"conditions", std::move(conditions)}}}};
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
    return json::object{{"status", json::object{{"isClean", false}, {"conditions", std::move(conditions)}}}};
  }
  auto conditions = objects::with_condition(conditions_of(server),
                                            Condition{"Wiping", false, "Done", "mode " + report.mode}, now);
  if (objects::condition_is_true(server, "WipeFailed"))
    conditions = objects::with_condition(&conditions, Condition{"WipeFailed", false, "Wiped", ""}, now);
  conditions = objects::with_condition(
      &conditions,
      Condition{"Clean", true, "Wiped", report.mode + ": " + (devices.empty() ? "no disks" : devices) + skipped}, now);
  conditions = objects::with_condition(&conditions, Condition{"PXEBooted", false, "Wiped", ""}, now);
  return json::object{{"status", json::object{{"isClean", true}, {"conditions", std::move(conditions)}}}};
}

json::object status_for_addresses(const AddressesReport& report) {
  json::array addresses;
  for (const auto& a : report.addresses) addresses.push_back(json::object{{"type", a.type}, {"address", a.address}});
  return json::object{{"status", json::object{{"addresses", std::move(addresses)}}}};
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
