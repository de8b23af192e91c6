#include "bmc/redfish_policy.hpp"

#include <algorithm>
#include <boost/json.hpp>

namespace ironboot::bmc::redfish {

namespace {

bool listed(const std::vector<std::string>& allowed, std::string_view value) {
  return std::find(allowed.begin(), allowed.end(), value) != allowed.end();
}

// An unlisted set allows every standard value (the BMC did not say).
bool allows(const std::vector<std::string>& allowed, std::string_view value) {
  return allowed.empty() || listed(allowed, value);
}

std::string join(const std::vector<std::string>& values) {
  std::string out;
  for (const auto& v : values) out += (out.empty() ? "" : ", ") + v;
  return out;
}

}  // namespace

ResetPlan plan_reset(PowerAction action, const ResetCapabilities& reset, PowerState current) {
  ResetPlan plan;
  if (reset.target.empty()) {
    plan.error = "the system has no #ComputerSystem.Reset action";
    return plan;
  }
  const auto& ok = reset.allowed;
  auto first_of = [&](std::initializer_list<const char*> choices) {
    for (const char* c : choices)
      if (allows(ok, c)) {
        plan.steps = {c};
        return true;
      }
    return false;
  };
  switch (action) {
    case PowerAction::On:
      if (current == PowerState::On) return plan;
      first_of({"On", "ForceOn"});
      break;
    case PowerAction::Off:
      if (current == PowerState::Off) return plan;
      first_of({"ForceOff"});
      break;
    case PowerAction::SoftOff:
      if (current == PowerState::Off) return plan;
      first_of({"GracefulShutdown"});
      break;
    case PowerAction::Cycle:
      if (current == PowerState::Off) {
        first_of({"On", "ForceOn"});
        break;
      }
      if (first_of({"PowerCycle"})) break;
      if (current == PowerState::On && first_of({"ForceRestart"})) break;
      if (allows(ok, "ForceOff") && allows(ok, "On")) plan.steps = {"ForceOff", "On"};
      break;
    case PowerAction::HardReset:
      first_of({"ForceRestart", "PowerCycle"});
      break;
  }
  if (plan.steps.empty())
    plan.error = std::string("no ResetType for ") + to_string(action) + " among the allowed [" + join(ok) + "]";
  return plan;
}

BootPatchPlan plan_boot_patch(const BootCapabilities& boot, const BootOverride& want, bool mode_read_only) {
  BootPatchPlan plan;
  if (!boot.present) {
    plan.error = "the system has no Boot object";
    return plan;
  }
  const char* target = want.device == BootDevice::Pxe ? "Pxe" : "Hdd";
  const char* enabled = want.persistent ? "Continuous" : "Once";
  const char* mode = want.mode == BootMode::Uefi ? "UEFI" : "Legacy";
  if (!allows(boot.target_allowed, target)) {
    plan.error = std::string("BootSourceOverrideTarget ") + target + " is not among the allowed [" + join(boot.target_allowed) + "]";
    return plan;
  }
  if (!allows(boot.enabled_allowed, enabled)) {
    plan.error = std::string("BootSourceOverrideEnabled ") + enabled + " is not among the allowed [" + join(boot.enabled_allowed) + "]";
    return plan;
  }
  bool send_mode = boot.has_mode && !mode_read_only;
  if (send_mode && !allows(boot.mode_allowed, mode)) {
    // The firmware cannot switch to that mode; it already being in it is fine.
    if (boot.mode != mode) {
      plan.error = std::string("BootSourceOverrideMode ") + mode + " is not among the allowed [" + join(boot.mode_allowed) + "]";
      return plan;
    }
    send_mode = false;
  }
  boost::json::object fields{{"BootSourceOverrideTarget", target}, {"BootSourceOverrideEnabled", enabled}};
  if (send_mode) {
    boost::json::object full = fields;
    full["BootSourceOverrideMode"] = mode;
    plan.bodies.push_back(boost::json::serialize(boost::json::object{{"Boot", full}}));
  }
  plan.bodies.push_back(boost::json::serialize(boost::json::object{{"Boot", fields}}));
  return plan;
}

std::vector<std::string> if_match_variants(std::string_view etag) {
  std::vector<std::string> out;
  auto add = [&](std::string v) {
    if (!v.empty() && std::find(out.begin(), out.end(), v) == out.end()) out.push_back(std::move(v));
  };
  add(std::string(etag));
  std::string_view strong = etag;
  if (strong.starts_with("W/")) strong.remove_prefix(2);
  add(std::string(strong));
  std::string_view bare = strong;
  if (bare.size() >= 2 && bare.front() == '"' && bare.back() == '"') bare = bare.substr(1, bare.size() - 2);
  add(std::string(bare));
  if (!bare.empty() && bare != "*") add("\"" + std::string(bare) + "\"");
  return out;
}

}  // namespace ironboot::bmc::redfish
